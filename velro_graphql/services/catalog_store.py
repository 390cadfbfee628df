"""The catalog in the database: seeded from the packaged file, exported, imported and changed
by operators, and reloaded by every replica when a change is announced."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any
from uuid import UUID

from velro_graphql.db import models as db_models
from velro_graphql.db.pool import Pool
from velro_graphql.db.session import Queryable, as_service
from velro_graphql.services.catalog import Model, load_catalog, parse_entries, parse_model
from velro_graphql.services.events import Event

log = logging.getLogger(__name__)

# What a listing of changes shows of an entry's keys, in this order.
_SHOWN = ("credits", "pricing", "deprecated", "hidden", "licence")


async def seed_catalog(pool: Pool) -> None:
    """Add the packaged file's models the database has never had (its first start, or a
    release that ships new ones); models the database has are the operators' to change."""
    packaged = load_catalog()
    async with as_service(pool) as conn:
        await db_models.seed(conn, _rows(packaged))


async def load_models(pool: Pool) -> dict[str, Model]:
    """The catalog as the database holds it."""
    async with pool.acquire() as conn:
        entries = await db_models.entries(conn)
    return {model.id: model for model in (parse_model(e, i) for i, e in enumerate(entries))}


async def export_catalog(pool: Pool) -> list[dict[str, Any]]:
    """Every model, in the catalog file's format."""
    async with pool.acquire() as conn:
        return await db_models.entries(conn)


async def import_catalog(pool: Pool, path: Path) -> list[str]:
    """Replace the catalog by a file's, checked whole before anything is written; models
    missing from it are deprecated, never deleted. Return the changes, one line each."""
    models = load_catalog(path)
    async with as_service(pool) as conn:
        await db_models.lock(conn)
        current = {e["id"]: e for e in await db_models.entries(conn)}
        changes = [_change(current.get(model.id), model.entry) for model in models]
        missing = [_deprecated(e) for key, e in current.items() if key not in _ids(models)]
        kept = _rows(parse_entries(missing), first=len(models))
        await db_models.write(conn, _rows(models) + kept)
    lines = [line for line in changes if line]
    lines += [f"deprecated {e['id']} (not in the file)" for e in missing if e != current[e["id"]]]
    return lines


async def set_model(
    pool: Pool,
    model_id: str,
    *,
    credits: int | None = None,
    deprecated: bool | None = None,
    hidden: bool | None = None,
) -> str:
    """Change one model's price per unit or its availability; return the change."""
    async with as_service(pool) as conn:
        await db_models.lock(conn)
        current, position = await _entry(conn, model_id)
        changed = {"credits": credits, "deprecated": deprecated, "hidden": hidden}
        entry = current | {key: value for key, value in changed.items() if value is not None}
        await db_models.write(conn, _rows([parse_model(entry, position)], first=position))
    return _change(current, entry) or f"{model_id}: unchanged"


async def _entry(conn: Queryable, model_id: str) -> tuple[dict[str, Any], int]:
    for position, entry in enumerate(await db_models.entries(conn, for_update=True)):
        if entry["id"] == model_id:
            return entry, position
    raise ValueError(f"catalog: no model {model_id!r}")


def _ids(models: Sequence[Model]) -> set[str]:
    return {model.id for model in models}


def _deprecated(entry: dict[str, Any]) -> dict[str, Any]:
    return entry | {"deprecated": True}


def _change(before: dict[str, Any] | None, after: Mapping[str, Any]) -> str | None:
    if before is None:
        return f"added {after['id']}"
    if before == after:
        return None
    keys = sorted(before.keys() | after.keys(), key=lambda k: (k not in _SHOWN, k))
    diffs = [_diff(key, before.get(key), after.get(key)) for key in keys]
    return f"changed {after['id']}: " + ", ".join(d for d in diffs if d)


def _diff(key: str, before: object, after: object) -> str | None:
    if before == after:
        return None
    if key in _SHOWN and not isinstance(after, dict | list):
        return f"{key} {before} -> {after}"
    return key


def _rows(models: Sequence[Model], *, first: int = 0) -> list[dict[str, Any]]:
    return [_row(model, first + index) for index, model in enumerate(models)]


def _row(model: Model, position: int) -> dict[str, Any]:
    return {
        "id": model.id,
        "name": model.name,
        "media_type": model.media_type,
        "credits": model.credits,
        "deprecated": model.deprecated,
        "parameters": [asdict(p) for p in model.parameters],
        "deadline_seconds": model.deadline_seconds,
        "entry": dict(model.entry),
        "position": position,
    }


class CatalogReloads:
    """An event hub listener: reload this replica's catalog when a change is announced (or
    the LISTEN connection comes back, as changes may have been missed); one reload at a time."""

    def __init__(self, reload: Callable[[], Awaitable[None]]) -> None:
        self._reload = reload
        self._task: asyncio.Task[None] | None = None
        self._again = False

    def __call__(self, user_id: UUID | None, event: Event) -> None:
        if event.kind not in ("catalog", "resync"):
            return
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            self._again = False
            try:
                await self._reload()
            except Exception:  # a bad reload keeps the catalog this replica has
                log.exception("catalog reload failed")
            if not self._again:
                return

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
