"""The model catalog's format: which fal models exist, what they cost and which parameters they
take, as the catalog file (and each row's `entry` in the database) spells them."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from velro_graphql.errors import BadUserInput
from velro_graphql.services.catalog_fields import as_object, check_keys, check_unique, get
from velro_graphql.services.pricing import Pricing, check_pricing, parse_pricing

MEDIA_TYPES = frozenset({"image", "video"})
PARAMETER_TYPES = frozenset({"string", "integer", "number", "boolean", "enum"})
# fal's licences: a research-only model stays out of paid use unless configured otherwise.
LICENCES = frozenset({"commercial", "research"})

_MODEL_KEYS = frozenset(
    {
        "id",
        "name",
        "media_type",
        "credits",
        "deprecated",
        "typical_duration_seconds",
        "deadline_seconds",
        "accepts_negative_prompt",
        "accepts_image",
        "requires_image",
        "parameters",
        "pricing",
        "licence",
        "hidden",
    }
)
_PARAMETER_KEYS = frozenset({"name", "type", "required", "default", "description"})
_OPTIONAL_KEYS = frozenset({"min", "max", "pricing", "licence", "hidden"})
_TYPE_KEYS = {
    "string": frozenset(),
    "boolean": frozenset(),
    "enum": frozenset({"values"}),
    "integer": frozenset({"min", "max"}),
    "number": frozenset({"min", "max"}),
}
_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "enum": "a string",
}


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str
    required: bool
    default: object
    description: str
    values: tuple[str, ...] | None = None
    minimum: int | float | None = None  # ints stay ints: seeds reach 2**64 - 1
    maximum: int | float | None = None


@dataclass(frozen=True)
class Model:
    id: str
    name: str
    media_type: str
    credits: int
    deprecated: bool
    typical_duration_seconds: int
    deadline_seconds: int
    accepts_negative_prompt: bool
    accepts_image: bool
    requires_image: bool
    parameters: tuple[Parameter, ...]
    pricing: Pricing = field(default_factory=Pricing)
    licence: str = "commercial"
    hidden: bool = False  # not listed in `models` (a staged launch), yet startable
    # The entry as the file spells it, kept whole so that export gives back what was imported.
    entry: Mapping[str, object] = field(default_factory=dict, compare=False, repr=False)


def load_catalog(path: Path | None = None) -> tuple[Model, ...]:
    """Read and check the catalog file, by default the one shipped with the package."""
    try:
        raw = json.loads(_read_catalog(path))
    except json.JSONDecodeError as error:
        raise ValueError(f"catalog: not JSON: {error}") from error
    return parse_entries(raw)


def parse_entries(raw: object) -> tuple[Model, ...]:
    """Check a whole catalog (a JSON array of entries); raise naming the first bad entry."""
    if not isinstance(raw, list):
        raise ValueError("catalog: the file must hold a JSON array of models")
    models = tuple(parse_model(entry, index) for index, entry in enumerate(raw))
    check_unique([model.id for model in models], "catalog: duplicate model id")
    return models


def validate_parameters(model: Model, parameters: dict[str, object] | None) -> dict[str, object]:
    """Check generation parameters against the model's schema and fill in defaults."""
    given = {} if parameters is None else parameters
    if not isinstance(given, dict):
        raise BadUserInput("Parameters must be a JSON object.", field="parameters")
    _reject_unknown(model, given)
    validated: dict[str, object] = {}
    for parameter in model.parameters:
        value = _resolve(parameter, given)
        if value is not None:
            validated[parameter.name] = value
    return validated


def _reject_unknown(model: Model, given: dict[str, object]) -> None:
    allowed = [parameter.name for parameter in model.parameters]
    for name in given:
        if name not in allowed:
            raise BadUserInput(
                f"Unknown parameter '{name}' for {model.id}; "
                f"allowed: {', '.join(allowed) or 'none'}.",
                field=f"parameters.{name}",
            )


def _resolve(parameter: Parameter, given: dict[str, object]) -> object:
    # An explicit null means the same as leaving the parameter out.
    value = given.get(parameter.name)
    field = f"parameters.{parameter.name}"
    if value is None:
        if parameter.required:
            raise BadUserInput(f"Parameter '{parameter.name}' is required.", field=field)
        return parameter.default
    problem = _problem(parameter, value)
    if problem is not None:
        raise BadUserInput(f"Parameter '{parameter.name}' {problem}.", field=field)
    return value


def _problem(parameter: Parameter, value: object) -> str | None:
    """Say what is wrong with a value for this parameter, or None when nothing is."""
    if not _has_type(parameter.type, value):
        return f"must be {_TYPE_NAMES[parameter.type]}"
    if parameter.values is not None and value not in parameter.values:
        return "must be one of " + ", ".join(f'"{choice}"' for choice in parameter.values)
    if not isinstance(value, int | float):
        return None
    if parameter.minimum is not None and value < parameter.minimum:
        return f"must be at least {_format_number(parameter.minimum)}"
    if parameter.maximum is not None and value > parameter.maximum:
        return f"must be at most {_format_number(parameter.maximum)}"
    return None


def _has_type(kind: str, value: object) -> bool:
    # bool is a subclass of int, and 2.0 is a float: neither is an integer here.
    if isinstance(value, bool):
        return kind == "boolean"
    if kind == "integer":
        return isinstance(value, int)
    if kind == "number":
        return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))
    return kind in ("string", "enum") and isinstance(value, str)


def _format_number(number: int | float) -> str:
    if isinstance(number, int):
        return str(number)
    return str(int(number)) if number.is_integer() else str(number)


def _read_catalog(path: Path | None) -> str:
    if path is not None:
        return path.read_text(encoding="utf-8")
    shipped = resources.files("velro_graphql").joinpath("catalog", "models.json")
    return shipped.read_text(encoding="utf-8")


def parse_model(raw: object, index: int) -> Model:
    """Check one catalog entry (`index` names it in errors)."""
    where = f"catalog entry {index}"
    fields = as_object(raw, where)
    where = f"catalog entry {index} ({fields.get('id')!r})"
    check_keys(fields, _MODEL_KEYS, _OPTIONAL_KEYS, where)
    model = Model(
        id=get(fields, "id", str, where),
        name=get(fields, "name", str, where),
        media_type=get(fields, "media_type", str, where),
        credits=get(fields, "credits", int, where),
        deprecated=get(fields, "deprecated", bool, where),
        typical_duration_seconds=get(fields, "typical_duration_seconds", int, where),
        deadline_seconds=get(fields, "deadline_seconds", int, where),
        accepts_negative_prompt=get(fields, "accepts_negative_prompt", bool, where),
        accepts_image=get(fields, "accepts_image", bool, where),
        requires_image=get(fields, "requires_image", bool, where),
        parameters=_parse_parameters(get(fields, "parameters", list, where), where),
        pricing=parse_pricing(fields.get("pricing"), where),
        licence=get(fields, "licence", str, where) if "licence" in fields else "commercial",
        hidden=get(fields, "hidden", bool, where) if "hidden" in fields else False,
        entry=fields,
    )
    _check_model(model, where)
    check_pricing(model.pricing, model.media_type, model.parameters, where)
    return model


def _check_model(model: Model, where: str) -> None:
    if not model.id or not model.name:
        raise ValueError(f"{where}: id and name must not be empty")
    if model.media_type not in MEDIA_TYPES:
        raise ValueError(f"{where}: unknown media_type {model.media_type!r}")
    if model.credits < 0:
        raise ValueError(f"{where}: credits must not be negative")
    if model.licence not in LICENCES:
        raise ValueError(f"{where}: licence must be one of {', '.join(sorted(LICENCES))}")
    if model.requires_image and not model.accepts_image:
        raise ValueError(f"{where}: requires_image needs accepts_image")
    if not 0 < model.typical_duration_seconds < model.deadline_seconds:
        raise ValueError(f"{where}: need 0 < typical_duration_seconds < deadline_seconds")


def _parse_parameters(raw: list[object], where: str) -> tuple[Parameter, ...]:
    parameters = tuple(
        _parse_parameter(item, f"{where} parameter {i}") for i, item in enumerate(raw)
    )
    check_unique([parameter.name for parameter in parameters], f"{where}: duplicate parameter")
    return parameters


def _parse_parameter(raw: object, where: str) -> Parameter:
    fields = as_object(raw, where)
    where = f"{where} ({fields.get('name')!r})"
    kind = get(fields, "type", str, where)
    if kind not in PARAMETER_TYPES:
        raise ValueError(f"{where}: unknown type {kind!r}")
    check_keys(fields, _PARAMETER_KEYS | _TYPE_KEYS[kind], _OPTIONAL_KEYS, where)
    parameter = Parameter(
        name=get(fields, "name", str, where),
        type=kind,
        required=get(fields, "required", bool, where),
        default=fields["default"],
        description=get(fields, "description", str, where),
        values=_parse_values(fields, where) if kind == "enum" else None,
        minimum=_parse_bound(fields, "min", where),
        maximum=_parse_bound(fields, "max", where),
    )
    _check_parameter(parameter, where)
    return parameter


def _parse_values(fields: dict[str, object], where: str) -> tuple[str, ...]:
    values = get(fields, "values", list, where)
    if not values or not all(isinstance(value, str) for value in values):
        raise ValueError(f"{where}: 'values' must be a non-empty list of strings")
    check_unique(values, f"{where}: duplicate value")
    return tuple(str(value) for value in values)


def _parse_bound(fields: dict[str, object], key: str, where: str) -> int | float | None:
    bound = fields.get(key)
    if bound is None:
        return None
    if isinstance(bound, bool) or not isinstance(bound, int | float) or not math.isfinite(bound):
        raise ValueError(f"{where}: {key!r} must be a finite number")
    return bound


def _check_parameter(parameter: Parameter, where: str) -> None:
    if not parameter.name:
        raise ValueError(f"{where}: name must not be empty")
    low, high = parameter.minimum, parameter.maximum
    if low is not None and high is not None and low > high:
        raise ValueError(f"{where}: min is greater than max")
    if parameter.default is None:
        return
    if parameter.required:
        raise ValueError(f"{where}: a required parameter cannot have a default")
    problem = _problem(parameter, parameter.default)
    if problem is not None:
        raise ValueError(f"{where}: default {problem}")
