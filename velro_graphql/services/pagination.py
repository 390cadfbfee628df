"""Keyset pagination: opaque cursors and the bounds of `first`."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TypeVar
from uuid import UUID

from velro_graphql.entities import Page
from velro_graphql.errors import BadUserInput

T = TypeVar("T")

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
_MAX_BIGINT = 2**63 - 1

TimeKey = tuple[datetime, UUID]


def check_first(first: int | None) -> int:
    """Return the page size asked for, refusing what is out of bounds."""
    if first is None:
        return DEFAULT_PAGE_SIZE
    if not 0 <= first <= MAX_PAGE_SIZE:
        raise BadUserInput(f"first must be between 0 and {MAX_PAGE_SIZE}.", field="first")
    return first


def encode_time_key(created_at: datetime, id_: UUID) -> str:
    return _encode(f"t:{created_at.isoformat()}|{id_}")


def decode_time_key(cursor: str | None) -> TimeKey | None:
    """Decode an `after` cursor made by `encode_time_key`."""
    if cursor is None:
        return None
    try:
        kind, _, body = _decode(cursor).partition(":")
        stamp, _, id_ = body.partition("|")
        if kind != "t":
            raise ValueError(kind)
        moment = datetime.fromisoformat(stamp)
        moment.astimezone(UTC)  # Overflows for times Postgres could not be sent.
        return moment, UUID(id_)
    except (ValueError, OverflowError):
        raise BadUserInput("after is not a valid cursor.", field="after") from None


def encode_int_key(id_: int) -> str:
    return _encode(f"i:{id_}")


def decode_int_key(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    kind, _, body = _decode_or_refuse(cursor).partition(":")
    if kind != "i" or not (body.isascii() and body.isdigit()) or int(body) > _MAX_BIGINT:
        raise BadUserInput("after is not a valid cursor.", field="after")
    return int(body)


def make_page(
    rows: Sequence[T], *, first: int, total_count: int, cursor_of: Callable[[T], str]
) -> Page[T]:
    """Build a page from up to `first + 1` rows fetched in order."""
    items = list(rows[:first])
    return Page(
        items=items,
        cursors=[cursor_of(item) for item in items],
        total_count=total_count,
        has_next_page=len(rows) > first,
    )


def _encode(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(cursor: str) -> str:
    if len(cursor) > 200:
        raise ValueError("too long")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return base64.urlsafe_b64decode(padded.encode("ascii")).decode()
    except (binascii.Error, UnicodeError) as exc:
        raise ValueError("not base64") from exc


def _decode_or_refuse(cursor: str) -> str:
    try:
        return _decode(cursor)
    except ValueError:
        raise BadUserInput("after is not a valid cursor.", field="after") from None
