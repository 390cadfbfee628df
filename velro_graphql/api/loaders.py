"""Per-request DataLoaders: one batched statement per level, whatever the number of items."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any
from uuid import UUID

from aiodataloader import DataLoader

from velro_graphql.entities import Generation, Output, Page
from velro_graphql.services import eta, projects, uploads, users
from velro_graphql.services.eta import Timing
from velro_graphql.services.files import Storage
from velro_graphql.services.generations import reads as generations
from velro_graphql.services.pagination import PageArgs
from velro_graphql.services.sessions import Queryable

# (project id, page arguments, filter) -> that project's page of generations
ProjectPageKey = tuple[UUID, PageArgs, generations.Filter]
Fetch = Callable[[Queryable, UUID, list[UUID]], Awaitable[Sequence[Any]]]


class Loaders:
    """The loaders of one operation (or one subscription event), named `<thing>_by_<key>`."""

    def __init__(self, conn: Queryable, user_id: UUID, storage: Storage) -> None:
        self.profile_by_id = DataLoader(partial(_profiles, conn))
        self.project_by_id = DataLoader(partial(_by_id, projects.get_projects, conn, user_id))
        self.generation_by_id = DataLoader(
            partial(_by_id, generations.get_generations, conn, user_id)
        )
        self.outputs_by_generation = DataLoader(partial(_outputs, conn, user_id))
        self.generations_by_project = DataLoader(partial(_project_pages, conn, user_id))
        self.signed_url_by_path = DataLoader(partial(_signed_urls, storage))
        self.timing_by_model = DataLoader(partial(_timings, conn))
        self.upload_by_id = DataLoader(partial(_by_id, uploads.get_uploads, conn, user_id))

    @staticmethod
    def prime(loader: DataLoader[Any, Any], items: Sequence[Any]) -> None:
        """Seed a by-id loader with rows a list already loaded, so nested lookups are free."""
        for item in items:
            loader.prime(item.id, item)


async def _by_id(fetch: Fetch, conn: Queryable, user_id: UUID, ids: list[UUID]) -> list[Any]:
    found = {item.id: item for item in await fetch(conn, user_id, list(ids))}
    return [found.get(id_) for id_ in ids]


async def _profiles(conn: Queryable, ids: list[UUID]) -> list[Any]:
    found = {p.id: p for p in await users.get_profiles(conn, list(ids))}
    return [found.get(id_) for id_ in ids]


async def _outputs(conn: Queryable, user_id: UUID, ids: list[UUID]) -> list[list[Output]]:
    found = await generations.get_outputs(conn, user_id, list(ids))
    return [found[id_] for id_ in ids]


async def _timings(conn: Queryable, model_ids: list[str]) -> list[Timing | None]:
    found = await eta.timings_of(conn, list(model_ids))
    return [found.get(m) for m in model_ids]


async def _project_pages(
    conn: Queryable, user_id: UUID, keys: list[ProjectPageKey]
) -> list[Page[Generation]]:
    # Siblings usually ask with the same arguments: one statement per distinct (args, filter).
    groups: dict[tuple[PageArgs, generations.Filter], list[UUID]] = defaultdict(list)
    for project_id, args, filter_ in keys:
        groups[(args, filter_)].append(project_id)
    pages: dict[ProjectPageKey, Page[Generation]] = {}
    for (args, filter_), project_ids in groups.items():
        found = await generations.list_by_projects(conn, user_id, project_ids, args, filter_)
        pages.update({(p, args, filter_): page for p, page in found.items()})
    return [pages[key] for key in keys]


# (bucket, path, expires in seconds) -> a signed URL, or None for a missing object
SignKey = tuple[str, str, int]


async def _signed_urls(storage: Storage, keys: list[SignKey]) -> list[str | None]:
    groups: dict[tuple[str, int], list[str]] = defaultdict(list)
    for bucket, path, expires in keys:
        groups[(bucket, expires)].append(path)
    signed: dict[SignKey, str] = {}
    for (bucket, expires), paths in groups.items():
        urls = await storage.sign(bucket, paths, expires_in=expires)
        signed.update({(bucket, p, expires): url for p, url in urls.items()})
    return [signed.get(key) for key in keys]
