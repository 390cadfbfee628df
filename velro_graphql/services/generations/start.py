"""Starting a generation: check the input against the catalog (every problem names its field),
then write the generation, its charge and its job in one transaction."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse
from uuid import UUID

from velro_graphql.db import credits, jobs, projects
from velro_graphql.db import generation_updates as updates
from velro_graphql.db.session import Queryable, as_service
from velro_graphql.entities import Caller, Generation
from velro_graphql.errors import BadUserInput, InsufficientCredits, ModelUnavailable, NotFound
from velro_graphql.services.catalog import Model, validate_parameters
from velro_graphql.services.credits import current_balance
from velro_graphql.services.generations.finish import load_own, not_finished
from velro_graphql.services.pricing import Price, quote
from velro_graphql.services.runtime import Runtime
from velro_graphql.services.uploads import ready_upload, signed_read_url

MAX_PROMPT = 2000
MAX_NEGATIVE_PROMPT = 1000
MAX_IDEMPOTENCY_KEY = 200
MAX_IMAGE_URL = 2048
# The provider fetches an upload through a signed URL that outlives the model's deadline by this
# much, so a request that waited in the provider's queue until the end can still read it.
IMAGE_URL_MARGIN_SECONDS = 3600


@dataclass(frozen=True, slots=True)
class StartInput:
    model_id: str
    prompt: str
    negative_prompt: str | None = None
    image_url: str | None = None
    parameters: Any = None
    project_id: UUID | None = None
    idempotency_key: str | None = None
    parent_id: UUID | None = None
    image_upload_id: UUID | None = None


@dataclass(frozen=True, slots=True)
class Started:
    generation: Generation
    balance: int
    created: bool


@dataclass(frozen=True, slots=True)
class Checked:
    """A start input that passed every check, with the model's defaults filled in."""

    model: Model
    prompt: str
    negative_prompt: str | None
    image_url: str | None
    parameters: dict[str, Any]
    project_id: UUID | None
    idempotency_key: str | None
    parent_id: UUID | None
    provider: str
    deadline_seconds: int
    price: Price
    image_upload_id: UUID | None = None

    def values(self, user_id: UUID) -> dict[str, Any]:
        return {
            "user_id": user_id,
            "project_id": self.project_id,
            "model_id": self.model.id,
            "parent_id": self.parent_id,
            "prompt": self.prompt,
            "negative_prompt": self.negative_prompt,
            "image_url": self.image_url,
            "parameters": self.parameters,
            "cost": self.price.credits,
            "provider": self.provider,
            "idempotency_key": self.idempotency_key,
            "deadline_seconds": self.deadline_seconds,
            "input_hash": self.input_hash(),
            "input_upload_id": self.image_upload_id,
        }

    def input_hash(self) -> str:
        """What an idempotency key promises is the same: a reuse with another input is refused."""
        given = [
            self.model.id,
            self.prompt,
            self.negative_prompt,
            self.parameters,
            str(self.project_id) if self.project_id else None,
            # An upload's URL is signed anew on every start: the upload is what was given.
            str(self.image_upload_id) if self.image_upload_id else self.image_url,
        ]
        canonical = json.dumps(given, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()


def check_start(
    given: StartInput,
    models: dict[str, Model],
    *,
    provider: str,
    deadline_override: int | None = None,
    allow_research: bool = False,
) -> Checked:
    """Check the input; raise on the first problem, naming the field."""
    model = _model(models, given.model_id, allow_research=allow_research)
    parameters = validate_parameters(model, _parameters(given.parameters))
    return Checked(
        model=model,
        prompt=_prompt(given.prompt),
        negative_prompt=_negative_prompt(model, given.negative_prompt),
        image_url=_image_url(model, given),
        parameters=parameters,
        project_id=given.project_id,
        idempotency_key=_idempotency_key(given.idempotency_key),
        parent_id=given.parent_id,
        provider=provider,
        deadline_seconds=deadline_override or model.deadline_seconds,
        price=quote(model, parameters),
        image_upload_id=given.image_upload_id,
    )


def _model(models: dict[str, Model], model_id: str, *, allow_research: bool) -> Model:
    model = models.get(model_id)
    if model is None:
        raise BadUserInput(f"Unknown model {model_id!r}.", field="modelId")
    if model.deprecated:
        raise ModelUnavailable(
            f"{model.name} is deprecated and cannot be started.", field="modelId"
        )
    if model.licence == "research" and not allow_research:
        raise ModelUnavailable(
            f"{model.name} is licensed for research only and is not offered here.",
            field="modelId",
        )
    return model


def _parameters(raw: Any) -> dict[str, object] | None:
    if raw is None or isinstance(raw, dict):
        return raw
    raise BadUserInput("parameters must be an object.", field="parameters")


def _prompt(prompt: str) -> str:
    if not prompt.strip():
        raise BadUserInput("prompt must not be empty.", field="prompt")
    if len(prompt) > MAX_PROMPT:
        raise BadUserInput(f"prompt must be at most {MAX_PROMPT} characters.", field="prompt")
    return prompt


def _negative_prompt(model: Model, negative_prompt: str | None) -> str | None:
    if negative_prompt is None:
        return None
    if not model.accepts_negative_prompt:
        raise BadUserInput(f"{model.name} takes no negative prompt.", field="negativePrompt")
    if len(negative_prompt) > MAX_NEGATIVE_PROMPT:
        raise BadUserInput(
            f"negativePrompt must be at most {MAX_NEGATIVE_PROMPT} characters.",
            field="negativePrompt",
        )
    return negative_prompt


def _image_url(model: Model, given: StartInput) -> str | None:
    """The given https image URL, after checking the model's need for an image (an upload's
    URL is signed later, once the upload is checked)."""
    image_url, field = given.image_url, "imageUrl" if given.image_url else "imageUploadId"
    if image_url is not None and given.image_upload_id is not None:
        raise BadUserInput("Give imageUploadId or imageUrl, not both.", field="imageUploadId")
    if image_url is None and given.image_upload_id is None:
        if model.requires_image:  # it edits or animates a given picture
            raise BadUserInput(f"{model.name} needs a reference image.", field=field)
        return None
    if not model.accepts_image:
        raise BadUserInput(f"{model.name} takes no reference image.", field=field)
    if image_url is None:
        return None
    parsed = urlparse(image_url)
    if parsed.scheme != "https" or not parsed.netloc or len(image_url) > MAX_IMAGE_URL:
        raise BadUserInput("imageUrl must be an https URL.", field="imageUrl")
    return image_url


def _idempotency_key(key: str | None) -> str | None:
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY:
        raise BadUserInput(
            f"idempotencyKey must be 1 to {MAX_IDEMPOTENCY_KEY} characters.",
            field="idempotencyKey",
        )
    return key


async def start_generation(rt: Runtime, caller: Caller, given: StartInput) -> Started:
    """Check, charge and queue a generation (or return the one its idempotency key made)."""
    return await _create(rt, caller, _check(rt, given))


async def quote_generation(rt: Runtime, given: StartInput) -> Price:
    """What starting this input would charge now; raises what starting it would."""
    return _check(rt, given).price


def _check(rt: Runtime, given: StartInput) -> Checked:
    return check_start(
        given,
        rt.models,
        provider=rt.default_provider,
        deadline_override=rt.settings.generation_deadline_seconds,
        allow_research=rt.settings.allow_research_models,
    )


async def retry_generation(rt: Runtime, caller: Caller, generation_id: UUID) -> Started:
    """Start a new, newly charged generation with the same input as a finished one."""
    source = await load_own(rt, caller, generation_id)
    if not source.finished:
        raise not_finished(source, "retry")
    given = StartInput(
        model_id=source.model_id,
        prompt=source.prompt,
        negative_prompt=source.negative_prompt,
        image_url=None if source.input_upload_id else source.image_url,
        parameters=source.parameters,
        project_id=source.project_id,
        parent_id=source.id,
        image_upload_id=source.input_upload_id,
    )
    return await start_generation(rt, caller, given)


async def _create(rt: Runtime, caller: Caller, checked: Checked) -> Started:
    """Create the generation, charge it and queue its job, all or nothing."""
    async with as_service(rt.pool) as conn:
        existing = await _made_by_key(conn, caller.user_id, checked)
        if existing is not None:
            return existing
        await _check_project(conn, caller.user_id, checked.project_id)
        checked = await _with_upload_url(rt, conn, caller.user_id, checked)
        generation = await updates.insert(conn, checked.values(caller.user_id))
        if generation is None:  # a concurrent request with the same key won the race
            raced = await _made_by_key(conn, caller.user_id, checked)
            assert raced is not None
            return raced
        charge = await credits.apply(
            conn,
            caller.user_id,
            amount=-generation.cost,
            kind="charge",
            generation_id=generation.id,
            description=f"{generation.model_id}: {checked.price.description}",
        )
        if charge is None:
            available = await current_balance(conn, caller.user_id)
            raise InsufficientCredits(required=generation.cost, available=available)
        await jobs.insert(conn, generation.id)
    return Started(generation, charge.balance_after, created=True)


async def _made_by_key(conn: Queryable, user_id: UUID, checked: Checked) -> Started | None:
    """The generation the input's idempotency key already made (if the input is the same)."""
    if not checked.idempotency_key:
        return None
    found = await updates.by_idempotency_key(conn, user_id, checked.idempotency_key)
    if found is None:
        return None
    generation, input_hash = found
    if input_hash is not None and input_hash != checked.input_hash():
        raise BadUserInput(
            "This idempotencyKey was used for a different input: use a new key.",
            field="idempotencyKey",
        )
    return Started(generation, await current_balance(conn, user_id), created=False)


async def _with_upload_url(
    rt: Runtime, conn: Queryable, user_id: UUID, checked: Checked
) -> Checked:
    """The input with the signed URL the provider reads the upload through."""
    if checked.image_upload_id is None:
        return checked
    upload = await ready_upload(conn, user_id, checked.image_upload_id, field="imageUploadId")
    expires_in = checked.deadline_seconds + IMAGE_URL_MARGIN_SECONDS
    url = await signed_read_url(rt, upload, expires_in=expires_in)
    return dataclasses.replace(checked, image_url=url)


async def _check_project(conn: Queryable, user_id: UUID, project_id: UUID | None) -> None:
    if project_id is None:
        return
    if not await projects.hold_own(conn, user_id, project_id):
        raise NotFound("No such project.", field="projectId")
