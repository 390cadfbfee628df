"""Mutations on generations: thin wrappers over the generation services."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from uuid import UUID

import strawberry

from velro_graphql.api.context import Context
from velro_graphql.api.resolvers.project_mutations import attempt
from velro_graphql.api.types.generation import Generation
from velro_graphql.api.types.organise import (
    MoveGenerationInput,
    MoveGenerationPayload,
    SetGenerationFavoriteInput,
    SetGenerationFavoritePayload,
)
from velro_graphql.api.types.payloads import (
    CancelGenerationPayload,
    DeleteGenerationPayload,
    GenerationIdInput,
    RetryGenerationPayload,
    StartGenerationInput,
    StartGenerationPayload,
    UserError,
)
from velro_graphql.api.types.relay import expect_global_id
from velro_graphql.entities import Caller
from velro_graphql.services.generations.finish import cancel_generation, delete_generation
from velro_graphql.services.generations.organise import move_generation, set_favorite
from velro_graphql.services.generations.start import (
    Started,
    StartInput,
    retry_generation,
    start_generation,
)
from velro_graphql.services.runtime import Runtime

Info = strawberry.Info[Context]
T = TypeVar("T")
P = TypeVar("P", StartGenerationPayload, RetryGenerationPayload)


def start_input(given: StartGenerationInput) -> StartInput:
    return StartInput(
        model_id=given.model_id,
        prompt=given.prompt,
        negative_prompt=given.negative_prompt,
        image_url=given.image_url,
        parameters=given.parameters,
        project_id=expect_global_id(given.project_id, "Project", field="projectId")
        if given.project_id is not None
        else None,
        idempotency_key=given.idempotency_key,
        image_upload_id=expect_global_id(given.image_upload_id, "Upload", field="imageUploadId")
        if given.image_upload_id is not None
        else None,
    )


def _generation(found: Any) -> Generation | None:
    return Generation.from_entity(found) if found is not None else None


async def _on_generation(
    info: Info, input: GenerationIdInput, command: Callable[[Runtime, Caller, UUID], Awaitable[T]]
) -> tuple[T | None, list[UserError]]:
    """Run a command on the generation `input.id` names, collecting its user errors."""
    rt, caller = info.context.services.runtime, info.context.caller
    return await attempt(lambda: command(rt, caller, expect_global_id(input.id, "Generation")))


def _started(payload: type[P], started: Started | None, errors: list[UserError]) -> P:
    if started is None:
        return payload(user_errors=errors)
    return payload(
        generation=_generation(started.generation),
        credits_balance=started.balance,
        user_errors=errors,
    )


@strawberry.type
class GenerationMutation:
    @strawberry.mutation(description="Check, charge and queue a generation.")
    async def start_generation(
        self, info: Info, input: StartGenerationInput
    ) -> StartGenerationPayload:
        rt, caller = info.context.services.runtime, info.context.caller
        started, errors = await attempt(lambda: start_generation(rt, caller, start_input(input)))
        return _started(StartGenerationPayload, started, errors)

    @strawberry.mutation(description="Cancel an unfinished generation; its credits are refunded.")
    async def cancel_generation(
        self, info: Info, input: GenerationIdInput
    ) -> CancelGenerationPayload:
        cancelled, errors = await _on_generation(info, input, cancel_generation)
        if cancelled is None:
            return CancelGenerationPayload(user_errors=errors)
        return CancelGenerationPayload(
            generation=_generation(cancelled.generation),
            credits_balance=cancelled.balance,
            user_errors=errors,
        )

    @strawberry.mutation(description="Run a finished generation again as a new, charged one.")
    async def retry_generation(
        self, info: Info, input: GenerationIdInput
    ) -> RetryGenerationPayload:
        started, errors = await _on_generation(info, input, retry_generation)
        return _started(RetryGenerationPayload, started, errors)

    @strawberry.mutation(
        description="Delete a generation and its files; the ledger keeps its rows."
    )
    async def delete_generation(
        self, info: Info, input: GenerationIdInput
    ) -> DeleteGenerationPayload:
        balance, errors = await _on_generation(info, input, delete_generation)
        return DeleteGenerationPayload(
            deleted_generation_id=None if errors else input.id,
            credits_balance=balance,
            user_errors=errors,
        )

    @strawberry.mutation(description="Mark or unmark one of the caller's generations.")
    async def set_generation_favorite(
        self, info: Info, input: SetGenerationFavoriteInput
    ) -> SetGenerationFavoritePayload:
        rt, caller = info.context.services.runtime, info.context.caller
        id_ = expect_global_id(input.id, "Generation")
        found, errors = await attempt(
            lambda: set_favorite(rt, caller, id_, favorite=input.favorite)
        )
        return SetGenerationFavoritePayload(generation=_generation(found), user_errors=errors)

    @strawberry.mutation(description="File a generation in one of the caller's projects.")
    async def move_generation(
        self, info: Info, input: MoveGenerationInput
    ) -> MoveGenerationPayload:
        rt, caller = info.context.services.runtime, info.context.caller
        found, errors = await attempt(
            lambda: move_generation(
                rt,
                caller,
                expect_global_id(input.id, "Generation"),
                project_id=expect_global_id(input.project_id, "Project", field="projectId")
                if input.project_id is not None
                else None,
            )
        )
        return MoveGenerationPayload(generation=_generation(found), user_errors=errors)
