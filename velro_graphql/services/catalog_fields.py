"""Reading the fields of a JSON object of the catalog file, with errors that say where."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

T = TypeVar("T")


def as_object(raw: object, where: str) -> dict[str, object]:
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: must be a JSON object")
    return raw


def check_keys(
    fields: dict[str, object], allowed: frozenset[str], optional: frozenset[str], where: str
) -> None:
    if missing := sorted(allowed - optional - fields.keys()):
        raise ValueError(f"{where}: missing {', '.join(missing)}")
    if unknown := sorted(fields.keys() - allowed):
        raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)}")


def get(fields: dict[str, object], key: str, kind: type[T], where: str) -> T:
    value = fields.get(key)
    if isinstance(value, kind) and (kind is bool or not isinstance(value, bool)):
        return value
    raise ValueError(f"{where}: {key!r} must be of type {kind.__name__}")


def check_unique(items: Iterable[object], message: str) -> None:
    seen: set[object] = set()
    for item in items:
        if item in seen:
            raise ValueError(f"{message} {item!r}")
        seen.add(item)
