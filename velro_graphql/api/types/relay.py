"""Relay pieces: global ids, the Node interface, connections with keyset cursors."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Generic, TypeVar
from uuid import UUID

import strawberry

from velro_graphql.entities import Page
from velro_graphql.errors import BadUserInput

T = TypeVar("T")
E = TypeVar("E")


def to_global_id(type_name: str, id_: object) -> strawberry.ID:
    return strawberry.ID(base64.b64encode(f"{type_name}:{id_}".encode()).decode())


def from_global_id(global_id: str, *, field: str = "id") -> tuple[str, UUID]:
    """Decode a global id to its type name and UUID, refusing anything malformed."""
    try:
        text = base64.b64decode(global_id.encode("ascii"), validate=True).decode()
        type_name, _, raw = text.partition(":")
        return type_name, UUID(raw)
    except (ValueError, binascii.Error, UnicodeError):
        raise BadUserInput(f"{field} is not a valid id.", field=field) from None


def expect_global_id(global_id: str, type_name: str, *, field: str = "id") -> UUID:
    """Decode a global id that must name a `type_name`."""
    found, id_ = from_global_id(global_id, field=field)
    if found != type_name:
        raise BadUserInput(f"{field} is not the id of a {type_name}.", field=field)
    return id_


@strawberry.interface(description="An object with a global id, fetchable with `node(id)`.")
class Node:
    id: strawberry.ID = strawberry.field(description="Global id: pass it to `node(id:)`.")


@strawberry.type(description="Where a page sits in its list.")
class PageInfo:
    has_next_page: bool = strawberry.field(
        description=(
            "More items follow the last one of this page (forwards: known; backwards: true when "
            "`before` was given)."
        )
    )
    has_previous_page: bool = strawberry.field(
        description=(
            "More items precede the first one (backwards: known; forwards: true when `after` was "
            "given)."
        )
    )
    start_cursor: str | None = strawberry.field(
        description="The cursor of the first item, for `before`."
    )
    end_cursor: str | None = strawberry.field(
        description="The cursor of the last item, for `after`."
    )


@strawberry.type(description="An item of a list with its cursor.")
class Edge(Generic[T]):
    cursor: str = strawberry.field(description="Opaque; valid for this list in this order only.")
    node: T = strawberry.field(description="The item.")


@strawberry.type(description="One page of a list.")
class Connection(Generic[T]):
    total_count: int = strawberry.field(
        description="Items in the whole list (all pages), filters applied."
    )
    page_info: PageInfo = strawberry.field(description="Where this page sits.")
    edges: list[Edge[T]] = strawberry.field(description="The page's items with their cursors.")

    @strawberry.field(description="The nodes of `edges`, for clients that need no cursors.")
    def nodes(self) -> list[T]:
        return [edge.node for edge in self.edges]


def connection_from(
    page: Page[E], convert: Callable[[E], T], *, after: bool = False
) -> Connection[T]:
    """Turn a service page into a connection, converting each item once."""
    edges = [Edge(cursor=c, node=convert(i)) for i, c in zip(page.items, page.cursors, strict=True)]
    return Connection(
        total_count=page.total_count,
        page_info=PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=page.has_previous_page or after,
            start_cursor=page.cursors[0] if page.cursors else None,
            end_cursor=page.cursors[-1] if page.cursors else None,
        ),
        edges=edges,
    )
