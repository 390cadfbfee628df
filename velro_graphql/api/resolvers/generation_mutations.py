"""Mutations on generations: thin wrappers over services.commands."""

from __future__ import annotations

from typing import Any

import strawberry

from velro_graphql.api.context import Context
from velro_graphql.api.resolvers.project_mutations import attempt
from velro_graphql.api.types.generation import Generation
from velro_graphql.api.types.payloads import (
    CancelGenerationPayload,
    DeleteGenerationPayload,
    GenerationIdInput,
    RetryGenerationPayload,
    StartGenerationInput,
    StartGenerationPayload,
)
from velro_graphql.api.types.relay import expect_global_id
from velro_graphql.services import commands
from velro_graphql.services.generation_input import StartInput

Info = strawberry.Info[Context]


def _start_input(given: StartGenerationInput) -> StartInput:
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
    )


def _generation(found: Any) -> Generation | None:
    return Generation.from_entity(found) if found is not None else None


@strawberry.type
class GenerationMutation:
    @strawberry.mutation(description="Check, charge and queue a generation.")
    async def start_generation(
        self, info: Info, input: StartGenerationInput
    ) -> StartGenerationPayload:
        rt, caller = info.context.services.runtime, info.context.caller
        started, errors = await attempt(
            lambda: commands.start_generation(rt, caller, _start_input(input))
        )
        if started is None:
            return StartGenerationPayload(user_errors=errors)
        return StartGenerationPayload(
            generation=_generation(started.generation), credits_balance=started.balance
        )

    @strawberry.mutation(description="Cancel an unfinished generation; its credits are refunded.")
    async def cancel_generation(
        self, info: Info, input: GenerationIdInput
    ) -> CancelGenerationPayload:
        rt, caller = info.context.services.runtime, info.context.caller
        ended, errors = await attempt(
            lambda: commands.cancel_generation(rt, caller, expect_global_id(input.id, "Generation"))
        )
        return CancelGenerationPayload(generation=_generation(ended), user_errors=errors)

    @strawberry.mutation(description="Run a finished generation again as a new, charged one.")
    async def retry_generation(
        self, info: Info, input: GenerationIdInput
    ) -> RetryGenerationPayload:
        rt, caller = info.context.services.runtime, info.context.caller
        started, errors = await attempt(
            lambda: commands.retry_generation(rt, caller, expect_global_id(input.id, "Generation"))
        )
        if started is None:
            return RetryGenerationPayload(user_errors=errors)
        return RetryGenerationPayload(
            generation=_generation(started.generation), credits_balance=started.balance
        )

    @strawberry.mutation(
        description="Delete a generation and its files; the ledger keeps its rows."
    )
    async def delete_generation(
        self, info: Info, input: GenerationIdInput
    ) -> DeleteGenerationPayload:
        rt, caller = info.context.services.runtime, info.context.caller
        _, errors = await attempt(
            lambda: commands.delete_generation(rt, caller, expect_global_id(input.id, "Generation"))
        )
        return DeleteGenerationPayload(
            deleted_generation_id=None if errors else input.id, user_errors=errors
        )
