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
    message: str = strawberry.field(description="What is wrong, for people.")
    code: str = strawberry.field(
        description="A stable code: BAD_USER_INPUT, NOT_FOUND, INSUFFICIENT_CREDITS,"
        " MODEL_UNAVAILABLE, RATE_LIMITED, UPSTREAM_UNAVAILABLE."
    )


def user_errors(error: VelroError) -> list[UserError]:
    return [UserError(field=error.field, message=error.message, code=error.code)]


@strawberry.input(description="A new project.")
class CreateProjectInput:
    name: str = strawberry.field(description="1 to 100 characters.")
    description: str | None = strawberry.field(default=None, description="At most 500 characters.")
    visibility: Visibility = strawberry.field(
        default=Visibility.PRIVATE, description="Who may see it; private by default."
    )
    tags: list[str] | None = strawberry.field(
        default=None, description="At most 20, each 1 to 30 characters; repeats are dropped."
    )


@strawberry.input(description="Changes to a project; null fields stay as they are.")
class UpdateProjectInput:
    id: strawberry.ID = strawberry.field(description="The project's global id.")
    name: str | None = strawberry.field(default=None, description="A new name; null keeps it.")
    description: str | None = strawberry.field(
        default=None, description="A new description; null keeps it."
    )
    visibility: Visibility | None = strawberry.field(
        default=None, description="A new visibility; null keeps it."
    )
    tags: list[str] | None = strawberry.field(
        default=None, description="Replaces all the tags; null leaves them as they are."
    )


@strawberry.input(description="The project to delete.")
class DeleteProjectInput:
    id: strawberry.ID = strawberry.field(description="The project's global id.")


@strawberry.type(description="The result of createProject.")
class CreateProjectPayload:
    project: Project | None = strawberry.field(
        default=None, description="The project as it is now; null on error."
    )
    user_errors: list[UserError] = strawberry.field(
        description="What was wrong with the input.", default_factory=list
    )


@strawberry.type(description="The result of updateProject.")
class UpdateProjectPayload:
    project: Project | None = strawberry.field(
        default=None, description="The project as it is now; null on error."
    )
    user_errors: list[UserError] = strawberry.field(
        description="What was wrong with the input.", default_factory=list
    )


@strawberry.type(description="The result of deleteProject.")
class DeleteProjectPayload:
    deleted_project_id: strawberry.ID | None = strawberry.field(
        default=None, description="The id of the deleted project; null on error."
    )
    user_errors: list[UserError] = strawberry.field(
        description="What was wrong with the input.", default_factory=list
    )


@strawberry.input(description="What to generate, with which model and where to file it.")
class StartGenerationInput:
    model_id: str = strawberry.field(description="A catalog model id, e.g. fal-ai/flux-pro.")
    prompt: str = strawberry.field(description="What to make: 1-2000 characters.")
    negative_prompt: str | None = strawberry.field(
        default=None, description="What to avoid (models that take it)."
    )
    image_url: str | None = strawberry.field(
        default=None, description="https URL of a reference image, for models that take one."
    )
    parameters: JSON | None = strawberry.field(
        default=None, description="The model's parameters, as listed by `models`."
    )
    project_id: strawberry.ID | None = strawberry.field(
        default=None, description="The project to file it in."
    )
    idempotency_key: str | None = strawberry.field(
        default=None, description="A retry with the same key returns the first generation."
    )
    image_upload_id: strawberry.ID | None = strawberry.field(
        default=None, description="A READY upload of the caller's, as the reference image."
    )


@strawberry.type(description="What a start would cost, asked before starting.")
class GenerationQuote:
    credits: int | None = strawberry.field(
        default=None, description="What startGeneration would charge for this input now."
    )
    description: str | None = strawberry.field(
        default=None, description='What is priced, e.g. "4 images x 12".'
    )
    user_errors: list[UserError] = strawberry.field(
        description="What was wrong with the input.", default_factory=list
    )


@strawberry.input(description="One of the caller's generations.")
class GenerationIdInput:
    id: strawberry.ID = strawberry.field(description="The generation's global id.")


@strawberry.type(description="The result of startGeneration.")
class StartGenerationPayload:
    generation: Generation | None = strawberry.field(
        default=None, description="The queued generation; null on error."
    )
    credits_balance: int | None = strawberry.field(
        default=None, description="The balance after the charge."
    )
    user_errors: list[UserError] = strawberry.field(
        description="What was wrong with the input (INSUFFICIENT_CREDITS, MODEL_UNAVAILABLE, ...).",
        default_factory=list,
    )


@strawberry.type(description="The result of cancelGeneration.")
class CancelGenerationPayload:
    generation: Generation | None = strawberry.field(
        default=None, description="The cancelled generation; null on error."
    )
    credits_balance: int | None = strawberry.field(
        default=None, description="The caller's balance after the refund."
    )
    user_errors: list[UserError] = strawberry.field(
        description="What was wrong with the input.", default_factory=list
    )


@strawberry.type(description="The result of retryGeneration.")
class RetryGenerationPayload:
    generation: Generation | None = strawberry.field(
        default=None, description="The new generation; null on error."
    )
    credits_balance: int | None = strawberry.field(
        default=None, description="The balance after its charge."
    )
    user_errors: list[UserError] = strawberry.field(
        description="What was wrong with the input.", default_factory=list
    )


@strawberry.type(description="The result of deleteGeneration.")
class DeleteGenerationPayload:
    deleted_generation_id: strawberry.ID | None = strawberry.field(
        default=None, description="The id of the deleted generation; null on error."
    )
    credits_balance: int | None = strawberry.field(
        default=None, description="The caller's balance after the refund, if any."
    )
    user_errors: list[UserError] = strawberry.field(
        description="What was wrong with the input.", default_factory=list
    )
