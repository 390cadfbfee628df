"""Records to entities: column lists are derived from the dataclasses, so they cannot drift."""

from __future__ import annotations

from dataclasses import fields
from functools import cache
from typing import Any, TypeVar

T = TypeVar("T")


@cache
def columns(entity: type[Any], alias: str = "") -> str:
    """The entity's columns in field order, for a SELECT list (generated columns included)."""
    prefix = f"{alias}." if alias else ""
    return ", ".join(prefix + f.name for f in fields(entity))


_widths: dict[type[Any], int] = {}


def to_entity(entity: type[T], row: Any, offset: int = 0) -> T:
    """Build `entity` from the row's columns starting at `offset`, in field order."""
    width = _widths.get(entity)
    if width is None:
        width = _widths[entity] = len(fields(entity))  # type: ignore[arg-type]
    return entity(*tuple(row)[offset : offset + width])
