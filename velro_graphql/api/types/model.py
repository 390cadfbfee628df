"""The model catalog as GraphQL types."""

from __future__ import annotations

from typing import cast

import strawberry
from strawberry.scalars import JSON

from velro_graphql.api.types.enums import MediaType
from velro_graphql.services import catalog


@strawberry.type(description="One input a model accepts, after fal's input schema.")
class ModelParameter:
    name: str
    type: str = strawberry.field(description="string, integer, number, boolean or enum.")
    required: bool
    default: JSON | None
    description: str
    values: list[str] | None = strawberry.field(description="The allowed values of an enum.")
    min: float | None
    max: float | None


@strawberry.type(description="A generation model from the catalog.")
class Model:
    id: str = strawberry.field(description="The fal endpoint id, e.g. fal-ai/flux-pro.")
    name: str
    media_type: MediaType
    credits: int = strawberry.field(description="What one generation costs.")
    provider: str = strawberry.field(
        description="The provider that would run it: fal or simulator."
    )
    deprecated: bool
    accepts_negative_prompt: bool
    accepts_image: bool
    requires_image: bool = strawberry.field(description="It edits or animates a given image.")
    typical_duration_seconds: int
    parameters: list[ModelParameter]

    @classmethod
    def from_entity(cls, model: catalog.Model, *, provider: str) -> Model:
        return cls(
            id=model.id,
            name=model.name,
            media_type=MediaType(model.media_type),
            credits=model.credits,
            provider=provider,
            deprecated=model.deprecated,
            accepts_negative_prompt=model.accepts_negative_prompt,
            accepts_image=model.accepts_image,
            requires_image=model.requires_image,
            typical_duration_seconds=model.typical_duration_seconds,
            parameters=[_parameter(p) for p in model.parameters],
        )


def _parameter(parameter: catalog.Parameter) -> ModelParameter:
    return ModelParameter(
        name=parameter.name,
        type=parameter.type,
        required=parameter.required,
        default=cast(JSON, parameter.default),
        description=parameter.description,
        values=list(parameter.values) if parameter.values is not None else None,
        min=parameter.minimum,
        max=parameter.maximum,
    )
