"""Generation: one request to one model, and what it produced."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, cast
from uuid import UUID

import strawberry
from strawberry.scalars import JSON

from velro_graphql import entities
from velro_graphql.api.types.enums import GenerationStatus
from velro_graphql.api.types.model import Model
from velro_graphql.api.types.output import Output
from velro_graphql.api.types.relay import Node, to_global_id
from velro_graphql.api.types.upload import Upload, load_upload
from velro_graphql.services.eta import estimate_completion
from velro_graphql.services.read_model import round_fraction

if TYPE_CHECKING:
    from velro_graphql.api.context import Context
    from velro_graphql.api.types.project import Project

_Project = Annotated["Project", strawberry.lazy("velro_graphql.api.types.project")]


@strawberry.type(description="A line of a generation's progress log.")
class LogLine:
    message: str = strawberry.field(description="One line the provider logged.")
    at: datetime | None = strawberry.field(description="When it was logged, if the provider said.")


@strawberry.type(description="Why a FAILED generation failed.")
class GenerationError:
    code: str = strawberry.field(
        description=(
            "Why it failed: PROVIDER_REJECTED (the provider refused the request, e.g. its "
            "parameters), PROVIDER_ERROR (it accepted, then failed), OUTPUT_UNAVAILABLE (no output "
            "could be fetched), TIMEOUT (past the model's deadline); each is refunded."
        )
    )
    message: str = strawberry.field(description="A human-readable explanation.")


@strawberry.type(description="One request to one model, and what it produced.")
class Generation(Node):
    id: strawberry.ID = strawberry.field(description="Global id.")
    status: GenerationStatus = strawberry.field(description="Where it is in its lifecycle.")
    model_id: str = strawberry.field(description="The catalog model it runs on.")
    prompt: str = strawberry.field(description="What to generate.")
    negative_prompt: str | None = strawberry.field(
        description="What to avoid, for models that take it."
    )
    parameters: JSON = strawberry.field(description="The model parameters, defaults filled in.")
    cost: int = strawberry.field(description="Credits charged for this generation.")
    provider: str = strawberry.field(description="The provider that ran it: fal or simulator.")
    queue_position: int | None = strawberry.field(description="0 is next, while QUEUED.")
    progress: float | None = strawberry.field(description="From 0 to 1 when known, to 3 decimals.")
    logs: list[LogLine] = strawberry.field(description="The provider's progress log, oldest first.")
    error: GenerationError | None = strawberry.field(
        description="Why it failed; null unless FAILED."
    )
    favorite: bool = strawberry.field(description="Marked as a favourite (setGenerationFavorite).")
    image_url: str | None = strawberry.field(
        description="The reference image URL the provider got (for an upload: signed, expiring)."
    )
    created_at: datetime = strawberry.field(description="When it was started.")
    started_at: datetime | None = strawberry.field(
        description="When the provider began running it."
    )
    completed_at: datetime | None = strawberry.field(
        description="When it reached a terminal status."
    )
    updated_at: datetime = strawberry.field(description="When it last changed.")
    entity: strawberry.Private[entities.Generation]

    @classmethod
    def from_entity(cls, generation: entities.Generation) -> Generation:
        g = generation
        return cls(
            id=to_global_id("Generation", g.id),
            status=GenerationStatus(g.status),
            model_id=g.model_id,
            prompt=g.prompt,
            negative_prompt=g.negative_prompt,
            parameters=cast(JSON, g.parameters),
            cost=g.cost,
            provider=g.provider,
            queue_position=g.queue_position,
            progress=round_fraction(g.progress),
            logs=[_log_line(line) for line in g.logs],
            error=GenerationError(code=g.error_code, message=g.error_message or "")
            if g.error_code
            else None,
            favorite=g.favorite,
            image_url=g.image_url,
            created_at=g.created_at,
            started_at=g.started_at,
            completed_at=g.completed_at,
            updated_at=g.updated_at,
            entity=g,
        )

    @strawberry.field(description="The project it is filed in, if any.")
    async def project(self, info: strawberry.Info[Context]) -> _Project | None:
        from velro_graphql.api.types.project import Project

        if self.entity.project_id is None:
            return None
        project = await info.context.loaders.project_by_id.load(self.entity.project_id)
        return Project.from_entity(project) if project else None

    @strawberry.field(description="The generation this one varies or retries.")
    async def parent(self, info: strawberry.Info[Context]) -> Generation | None:
        return await load_generation(info.context, self.entity.parent_id)

    @strawberry.field(description="The files it produced, in order.")
    async def outputs(self, info: strawberry.Info[Context]) -> list[Output]:
        found = await info.context.loaders.outputs_by_generation.load(self.entity.id)
        return [Output.from_entity(o) for o in found]

    @strawberry.field(description="The provider's id of the request (for support).")
    def provider_request_id(self) -> str | None:
        return self.entity.provider_request_id

    @strawberry.field(
        description="The provider's timings of the request in seconds, e.g. "
        '{"inference": 2.1}, once it finished (for support).'
    )
    def provider_timings(self) -> JSON | None:
        return cast(JSON, self.entity.provider_timings)

    @strawberry.field(
        description="When it should be done, re-estimated on every change (null once finished):"
        " from the model's recently observed queue wait and run time across users (the"
        " catalog's typical duration until there are some) and its own progress."
    )
    async def estimated_completion_at(self, info: strawberry.Info[Context]) -> datetime | None:
        if self.entity.finished:
            return None
        timing = await info.context.loaders.timing_by_model.load(self.model_id)
        model = info.context.services.runtime.models.get(self.model_id)
        typical = model.typical_duration_seconds if model else 0
        return estimate_completion(
            self.entity, timing, typical_seconds=typical, now=datetime.now(UTC)
        )

    @strawberry.field(description="The uploaded picture it was made from (imageUploadId).")
    async def input_image(self, info: strawberry.Info[Context]) -> Upload | None:
        return await load_upload(info.context, self.entity.input_upload_id)

    @strawberry.field(description="Its catalog model (null if it has left the catalog).")
    def model(self, info: strawberry.Info[Context]) -> Model | None:
        model = info.context.services.runtime.models.get(self.model_id)
        return (
            Model.from_entity(model, provider=info.context.services.runtime.default_provider)
            if model
            else None
        )


async def load_generation(context: Context, id_: UUID | None) -> Generation | None:
    if id_ is None:
        return None
    found = await context.loaders.generation_by_id.load(id_)
    return Generation.from_entity(found) if found else None


def _log_line(line: dict[str, object]) -> LogLine:
    at = line.get("at")
    return LogLine(
        message=str(line.get("message", "")),
        at=datetime.fromisoformat(at) if isinstance(at, str) else None,
    )
