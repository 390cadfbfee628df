"""Prices per unit, as fal bills: per generation, per image or per second of video, with
multipliers for parameters that change fal's price (resolution, audio). The quote of an input
is what starting it charges; docs/pricing.md says where each price comes from."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from velro_graphql.services.catalog import Model, Parameter

UNITS = ("GENERATION", "IMAGE", "VIDEO_SECOND")
_KEYS = frozenset({"unit", "multipliers", "seconds"})
_UNIT_NAMES = {"GENERATION": "generation", "IMAGE": "image", "VIDEO_SECOND": "second"}
# Which parameter counts the units, when the model takes it.
_COUNTED_BY = {"IMAGE": "num_images", "VIDEO_SECOND": "duration"}


@dataclass(frozen=True)
class Pricing:
    """`credits` of the model per `unit`; `multipliers[parameter][value]` scale it; `seconds`
    is the length of a video model that takes no duration."""

    unit: str = "GENERATION"
    multipliers: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    seconds: int | None = None

    def entry(self) -> dict[str, object]:
        """The pricing as the catalog file spells it."""
        entry: dict[str, object] = {"unit": self.unit}
        if self.multipliers:
            entry["multipliers"] = {name: dict(values) for name, values in self.multipliers.items()}
        if self.seconds is not None:
            entry["seconds"] = self.seconds
        return entry


@dataclass(frozen=True)
class Price:
    credits: int
    description: str  # what was priced, e.g. "4 images x 12"


def parse_pricing(raw: object, where: str) -> Pricing:
    """Read a catalog entry's `pricing` object (absent: one price per generation)."""
    if raw is None:
        return Pricing()
    if not isinstance(raw, dict) or raw.keys() - _KEYS:
        raise ValueError(f"{where}: pricing must be an object with keys among {sorted(_KEYS)}")
    unit = raw.get("unit")
    if unit not in UNITS:
        raise ValueError(f"{where}: pricing unit must be one of {', '.join(UNITS)}")
    seconds = raw.get("seconds")
    if seconds is not None and (type(seconds) is not int or seconds <= 0):
        raise ValueError(f"{where}: pricing seconds must be a positive integer")
    return Pricing(str(unit), _parse_multipliers(raw.get("multipliers", {}), where), seconds)


def _parse_multipliers(raw: object, where: str) -> dict[str, dict[str, float]]:
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: pricing multipliers must be an object")
    parsed: dict[str, dict[str, float]] = {}
    for name, values in raw.items():
        if not isinstance(values, dict) or not all(_is_factor(f) for f in values.values()):
            raise ValueError(f"{where}: multipliers of {name!r} must map values to numbers > 0")
        parsed[name] = {str(value): float(factor) for value, factor in values.items()}
    return parsed


def _is_factor(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value) and value > 0


def check_pricing(
    pricing: Pricing, media_type: str, parameters: tuple[Parameter, ...], where: str
) -> None:
    """Check that the pricing fits the model: its unit, its counting and its multipliers."""
    by_name = {parameter.name: parameter for parameter in parameters}
    if pricing.unit == "IMAGE" and media_type != "image":
        raise ValueError(f"{where}: only image models are priced per IMAGE")
    if pricing.unit == "VIDEO_SECOND":
        _check_seconds(pricing, media_type, by_name.get("duration"), where)
    for name, values in pricing.multipliers.items():
        parameter = by_name.get(name)
        if parameter is None:
            raise ValueError(f"{where}: pricing multiplier for unknown parameter {name!r}")
        for value in values:
            if value not in _choices(parameter):
                raise ValueError(f"{where}: pricing multiplier for {name}={value!r}: no such value")


def _check_seconds(
    pricing: Pricing, media_type: str, duration: Parameter | None, where: str
) -> None:
    if media_type != "video":
        raise ValueError(f"{where}: only video models are priced per VIDEO_SECOND")
    if duration is None and pricing.seconds is None:
        raise ValueError(f"{where}: VIDEO_SECOND needs a duration parameter or pricing seconds")
    if duration is not None and duration.values is not None:
        for value in duration.values:
            if _seconds(value) is None:
                raise ValueError(f"{where}: duration {value!r} is not a number of seconds")


def _choices(parameter: Parameter) -> tuple[str, ...]:
    if parameter.type == "boolean":
        return ("true", "false")
    return parameter.values or ()


def quote(model: Model, parameters: Mapping[str, object]) -> Price:
    """What a generation of `model` with these (validated, defaults filled) parameters costs."""
    pricing = model.pricing
    count = _count(pricing, parameters)
    factors = [
        (name, _value_key(parameters[name]), values[_value_key(parameters[name])])
        for name, values in pricing.multipliers.items()
        if name in parameters and _value_key(parameters[name]) in values
    ]
    total = Decimal(model.credits) * count
    for _, _, factor in factors:
        total *= Decimal(str(factor))
    noun = _UNIT_NAMES[pricing.unit] + ("" if count == 1 else "s")
    description = f"{count} {noun} x {model.credits}" + "".join(
        f" x {_number(factor)} ({name} {value})" for name, value, factor in factors
    )
    return Price(credits=math.ceil(total), description=description)


def _count(pricing: Pricing, parameters: Mapping[str, object]) -> int:
    counted = parameters.get(_COUNTED_BY.get(pricing.unit, ""))
    if pricing.unit == "IMAGE":
        return counted if isinstance(counted, int) and not isinstance(counted, bool) else 1
    if pricing.unit == "VIDEO_SECOND":
        return _seconds(counted) or pricing.seconds or 1
    return 1


def _seconds(value: object) -> int | None:
    """Seconds of a duration as fal spells it: 5, "5" or "8s"."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if value > 0 else None
    if isinstance(value, str) and value.removesuffix("s").isdigit():
        return int(value.removesuffix("s")) or None
    return None


def _value_key(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _number(factor: float) -> str:
    return str(int(factor)) if factor.is_integer() else str(factor)
