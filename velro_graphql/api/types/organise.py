"""Inputs and payloads of organising generations: favourites and moves."""

from __future__ import annotations

import strawberry

from velro_graphql.api.types.generation import Generation
from velro_graphql.api.types.payloads import UserError


@strawberry.input(description="Mark or unmark a generation as a favourite.")
class SetGenerationFavoriteInput:
    id: strawberry.ID = strawberry.field(description="The generation's global id.")
    favorite: bool = strawberry.field(description="True to mark, false to unmark.")


@strawberry.input(description="File a generation in a project, or in none.")
class MoveGenerationInput:
    id: strawberry.ID = strawberry.field(description="The generation's global id.")
    project_id: strawberry.ID | None = strawberry.field(
        default=None, description="One of the caller's projects; null: out of any project."
    )


@strawberry.type(description="The result of setGenerationFavorite.")
class SetGenerationFavoritePayload:
    generation: Generation | None = strawberry.field(
        default=None, description="The generation as it is now; null on error."
    )
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="What was wrong with the input (NOT_FOUND...)."
    )


@strawberry.type(description="The result of moveGeneration.")
class MoveGenerationPayload:
    generation: Generation | None = strawberry.field(
        default=None, description="The generation as it is now; null on error."
    )
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="NOT_FOUND for another user's generation or project."
    )
