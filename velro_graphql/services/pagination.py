"""Keyset pagination: opaque cursors per ordering, the bounds of `first` and `last`, and
pages read forwards or backwards."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar
from uuid import UUID

from velro_graphql.db.pages import PageQuery
from velro_graphql.db.read_model import Keyset, Order
from velro_graphql.entities import Page
from velro_graphql.errors import BadUserInput

T = TypeVar("T")

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
_MAX_BIGINT = 2**63 - 1


@dataclass(frozen=True, slots=True)
class PageArgs:
    """A connection's arguments as the client gave them: `first`/`after` read forwards,
    `last`/`before` backwards, in the named ordering."""

    first: int | None = None
    after: str | None = None
    last: int | None = None
    before: str | None = None
    order_by: str = "CREATED_AT"
    descending: bool = True


def page_query(args: PageArgs, orderings: Mapping[str, Keyset], filter_: object) -> PageQuery:
    """The query for one page (one row more than asked, to tell whether there are more)."""
    backward = args.last is not None or args.before is not None
    if backward and (args.first is not None or args.after is not None):
        raise BadUserInput("Page with first/after or with last/before, not both.", field="last")
    field = "before" if backward else "after"
    size = check_first(args.last if backward else args.first, "last" if backward else "first")
    keyset = orderings[args.order_by]
    cursor = decode_key(keyset, args.before if backward else args.after, field=field)
    return PageQuery(Order(keyset, args.descending, backward), size + 1, cursor, filter_)


def keyset_page(rows: Sequence[T], query: PageQuery, total_count: int) -> Page[T]:
    """A page, in the list's order, from the rows a query fetched in its scan's order."""
    order, more = query.order, len(rows) >= query.limit
    items = list(rows[: query.limit - 1])
    if order.backward:
        items.reverse()
    columns = order.keyset.columns
    return Page(
        items=items,
        cursors=[encode_key(order.keyset, [getattr(i, c) for c in columns]) for i in items],
        total_count=total_count,
        has_next_page=query.cursor is not None if order.backward else more,
        has_previous_page=more if order.backward else query.cursor is not None,
    )


def check_first(first: int | None, field: str = "first") -> int:
    """Return the page size asked for, refusing what is out of bounds."""
    if first is None:
        return DEFAULT_PAGE_SIZE
    if not 0 <= first <= MAX_PAGE_SIZE:
        raise BadUserInput(f"{field} must be between 0 and {MAX_PAGE_SIZE}.", field=field)
    return first


def encode_key(keyset: Keyset, values: Sequence[object]) -> str:
    """A cursor: the ordering's tag and the row's keyset values (as `db.read_model.cursor_sql`
    writes them in SQL)."""
    return _encode(f"{keyset.tag}:" + "|".join(_text(v) for v in values))


def decode_key(keyset: Keyset, cursor: str | None, *, field: str) -> tuple[object, ...] | None:
    """The keyset values of a cursor made for this ordering; any other is refused."""
    if cursor is None:
        return None
    try:
        tag, colon, body = _decode(cursor).partition(":")
        parts = body.rsplit("|", len(keyset.columns) - 1)  # only a leading text may hold "|"
        if tag != keyset.tag or not colon or len(parts) != len(keyset.columns):
            raise ValueError(tag)
        return tuple(_PARSERS[cast](p) for p, cast in zip(parts, keyset.casts, strict=True))
    except (ValueError, OverflowError):
        message = f"{field} is not a cursor of this list in this order."
        raise BadUserInput(message, field=field) from None


def _text(value: object) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    moment.astimezone(UTC)  # Overflows for times Postgres could not be sent.
    return moment


def _int4(text: str) -> int:
    value = int(text)
    if not (text.isascii() and text.lstrip("-").isdigit() and -(2**31) <= value < 2**31):
        raise ValueError(text)
    return value


_PARSERS: Mapping[str, Callable[[str], object]] = {
    "timestamptz": _moment,
    "uuid": UUID,
    "int": _int4,
    "text": str,
}


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
