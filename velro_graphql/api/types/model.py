"""The model catalog as GraphQL types."""

from __future__ import annotations

from typing import cast

import strawberry
from strawberry.scalars import JSON

from velro_graphql.api.types.enums import Licence, MediaType, PriceUnit
from velro_graphql.errors import VelroError
from velro_graphql.services import catalog
from velro_graphql.services.pricing import quote


@strawberry.type(description="One input a model accepts, after fal's input schema.")
class ModelParameter:
    name: str = strawberry.field(description="The display name.")
    type: str = strawberry.field(description="string, integer, number, boolean or enum.")
    required: bool = strawberry.field(description="A start without it is refused.")
    default: JSON | None = strawberry.field(description="What fal uses when it is left out.")
    description: str = strawberry.field(description="What the parameter does.")
    values: list[str] | None = strawberry.field(description="The allowed values of an enum.")
    min: float | None = strawberry.field(description="The smallest allowed number.")
    max: float | None = strawberry.field(description="The largest allowed number.")


@strawberry.type(description="A parameter value that scales the price (e.g. 1080p, audio).")
class PriceMultiplier:
    parameter: str = strawberry.field(description="The parameter the factor depends on.")
    value: str = strawberry.field(description="As JSON prints it: 1080p, true, false.")
    factor: float = strawberry.field(description="The price multiplier for that value.")


@strawberry.type(description="A model's price: `credits` per `unit`, scaled by multipliers.")
class Pricing:
    unit: PriceUnit = strawberry.field(description="What one price unit is.")
    credits: int = strawberry.field(description="Credits per unit.")
    multipliers: list[PriceMultiplier] = strawberry.field(description="Factors by parameter value.")
    seconds: int | None = strawberry.field(
        description="For VIDEO_SECOND models without a duration parameter: the video's length."
    )


@strawberry.type(description="A generation model from the catalog.")
class Model:
    id: str = strawberry.field(description="The fal endpoint id, e.g. fal-ai/flux-pro.")
    name: str = strawberry.field(description="The display name.")
    media_type: MediaType = strawberry.field(description="IMAGE or VIDEO.")
    credits: int = strawberry.field(
        description="What one generation with the default parameters costs (see `pricing`; "
        "`generationQuote` prices any input)."
    )
    pricing: Pricing = strawberry.field(description="How a start is priced.")
    provider: str = strawberry.field(
        description="The provider that would run it: fal or simulator."
    )
    deprecated: bool = strawberry.field(description="Readable, but no new starts.")
    accepts_negative_prompt: bool = strawberry.field(description="It takes negativePrompt.")
    accepts_image: bool = strawberry.field(description="It takes imageUploadId or imageUrl.")
    requires_image: bool = strawberry.field(description="It edits or animates a given image.")
    typical_duration_seconds: int = strawberry.field(description="Usual queue and run time.")
    licence: Licence = strawberry.field(
        description="RESEARCH models cannot be started unless the server allows them."
    )
    parameters: list[ModelParameter] = strawberry.field(
        description="Its input schema, as fal publishes it."
    )

    @classmethod
    def from_entity(cls, model: catalog.Model, *, provider: str) -> Model:
        return cls(
            id=model.id,
            name=model.name,
            media_type=MediaType(model.media_type),
            credits=_default_credits(model),
            pricing=_pricing(model),
            provider=provider,
            deprecated=model.deprecated,
            accepts_negative_prompt=model.accepts_negative_prompt,
            accepts_image=model.accepts_image,
            requires_image=model.requires_image,
            typical_duration_seconds=model.typical_duration_seconds,
            licence=Licence(model.licence),
            parameters=[_parameter(p) for p in model.parameters],
        )


def _default_credits(model: catalog.Model) -> int:
    try:
        return quote(model, catalog.validate_parameters(model, {})).credits
    except VelroError:  # a required parameter: no default generation to price
        return model.credits


def _pricing(model: catalog.Model) -> Pricing:
    pricing = model.pricing
    return Pricing(
        unit=PriceUnit(pricing.unit),
        credits=model.credits,
        multipliers=[
            PriceMultiplier(parameter=name, value=value, factor=factor)
            for name, values in pricing.multipliers.items()
            for value, factor in values.items()
        ],
        seconds=pricing.seconds,
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
