"""Mutation inputs and payloads: every payload carries `userErrors`."""

from __future__ import annotations

import strawberry
from strawberry.scalars import JSON

from velro_graphql.api.types.enums import Visibility
from velro_graphql.api.types.generation import Generation
from velro_graphql.api.types.project import Project
from velro_graphql.errors import VelroError


@strawberry.type(description="A problem with the input that the user can fix.")
class UserError:
    field: str | None = strawberry.field(
        description="The input field at fault, e.g. `name` or `parameters.num_images`."
    )
    message: str
    code: str


def user_errors(error: VelroError) -> list[UserError]:
    return [UserError(field=error.field, message=error.message, code=error.code)]


@strawberry.input
class CreateProjectInput:
    name: str
    description: str | None = None
    visibility: Visibility = Visibility.PRIVATE


@strawberry.input
class UpdateProjectInput:
    id: strawberry.ID
    name: str | None = None
    description: str | None = None
    visibility: Visibility | None = None


@strawberry.input
class DeleteProjectInput:
    id: strawberry.ID


@strawberry.type
class CreateProjectPayload:
    project: Project | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class UpdateProjectPayload:
    project: Project | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class DeleteProjectPayload:
    deleted_project_id: strawberry.ID | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class StartGenerationInput:
    model_id: str = strawberry.field(description="A catalog model id, e.g. fal-ai/flux-pro.")
    prompt: str
    negative_prompt: str | None = None
    image_url: str | None = strawberry.field(
        default=None, description="https URL of a reference image, for models that take one."
    )
    parameters: JSON | None = strawberry.field(
        default=None, description="The model's parameters, as listed by `models`."
    )
    project_id: strawberry.ID | None = None
    idempotency_key: str | None = strawberry.field(
        default=None, description="A retry with the same key returns the first generation."
    )
    image_upload_id: strawberry.ID | None = strawberry.field(
        default=None, description="A READY upload of the caller's, as the reference image."
    )


@strawberry.input
class GenerationIdInput:
    id: strawberry.ID


@strawberry.type
class StartGenerationPayload:
    generation: Generation | None = None
    credits_balance: int | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CancelGenerationPayload:
    generation: Generation | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class RetryGenerationPayload:
    generation: Generation | None = None
    credits_balance: int | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class DeleteGenerationPayload:
    deleted_generation_id: strawberry.ID | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
