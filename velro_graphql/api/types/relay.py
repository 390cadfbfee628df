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
    id: strawberry.ID


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    total_count: int
    page_info: PageInfo
    edges: list[Edge[T]]

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
