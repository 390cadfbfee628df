"""Arguments of the lists: filters, orderings and pages, turned into the services' values."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from velro_graphql.api.types.enums import CreditTransactionKind, GenerationStatus, MediaType
from velro_graphql.api.types.relay import expect_global_id
from velro_graphql.services import projects
from velro_graphql.services.generations import reads
from velro_graphql.services.pagination import PageArgs


@strawberry.enum(description="Which way a list is sorted.")
class OrderDirection(Enum):
    ASC = "ASC"
    DESC = "DESC"


@strawberry.enum(description="What generations can be sorted by.")
class GenerationOrderField(Enum):
    CREATED_AT = "CREATED_AT"
    COMPLETED_AT = strawberry.enum_value(
        "COMPLETED_AT", description="Lists only finished generations (the others have none)."
    )
    COST = "COST"


@strawberry.enum(description="What projects can be sorted by.")
class ProjectOrderField(Enum):
    CREATED_AT = "CREATED_AT"
    UPDATED_AT = "UPDATED_AT"
    NAME = "NAME"


@strawberry.input(description="A generation list's order; by default newest first.")
class GenerationOrder:
    field: GenerationOrderField = strawberry.field(
        default=GenerationOrderField.CREATED_AT, description="What to sort by."
    )
    direction: OrderDirection = strawberry.field(
        default=OrderDirection.DESC, description="DESC: highest or latest first."
    )


@strawberry.input(description="A project list's order; by default newest first.")
class ProjectOrder:
    field: ProjectOrderField = strawberry.field(
        default=ProjectOrderField.CREATED_AT, description="What to sort by."
    )
    direction: OrderDirection = strawberry.field(
        default=OrderDirection.DESC,
        description="DESC: highest, latest or last in the alphabet first.",
    )


@strawberry.input(description="Generations matching all the given fields (null: any).")
class GenerationFilter:
    status: GenerationStatus | None = strawberry.field(default=None, description="In this status.")
    project_id: strawberry.ID | None = strawberry.field(
        default=None, description="Filed in this project (a global id)."
    )
    model_id: str | None = strawberry.field(default=None, description="Of this catalog model.")
    media_type: MediaType | None = strawberry.field(
        default=None, description="Of models that make this."
    )
    favorite: bool | None = strawberry.field(
        default=None, description="Marked (true) or not marked (false) as a favourite."
    )
    search: str | None = strawberry.field(
        default=None, description="Words that must all be in the prompt, in any case."
    )
    created_after: datetime | None = strawberry.field(
        default=None, description="Created at or after this moment."
    )
    created_before: datetime | None = strawberry.field(
        default=None, description="Created before this moment."
    )


@strawberry.input(description="Projects matching all the given fields (null: any).")
class ProjectFilter:
    search: str | None = strawberry.field(
        default=None, description="Text the name contains, in any case."
    )
    tag: str | None = strawberry.field(default=None, description="A tag the project has.")


@strawberry.input(description="Ledger rows matching all the given fields (null: any).")
class CreditTransactionFilter:
    kind: CreditTransactionKind | None = strawberry.field(default=None, description="Of this kind.")


def page_args(
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    order: GenerationOrder | ProjectOrder | None,
) -> PageArgs:
    """A connection's arguments for the services."""
    return PageArgs(
        first=first,
        after=after,
        last=last,
        before=before,
        order_by=order.field.value if order else "CREATED_AT",
        descending=order is None or order.direction == OrderDirection.DESC,
    )


def generation_filter(given: GenerationFilter | None) -> reads.Filter:
    if given is None:
        return reads.Filter()
    project_id = given.project_id
    return reads.Filter(
        status=given.status.value if given.status else None,
        project_id=expect_global_id(project_id, "Project", field="filter.projectId")
        if project_id
        else None,
        model_id=given.model_id,
        media_type=given.media_type.value if given.media_type else None,
        favorite=given.favorite,
        search=given.search,
        created_after=given.created_after,
        created_before=given.created_before,
    )


def project_filter(given: ProjectFilter | None) -> projects.Filter:
    return projects.Filter(search=given.search, tag=given.tag) if given else projects.Filter()
