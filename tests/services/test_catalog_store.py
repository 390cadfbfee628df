"""The catalog in the database: seeded once, imported whole or not at all, changed by
operators, reloaded on NOTIFY; deprecated, hidden and research-only models."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from velro_graphql.api.context import AppState
from velro_graphql.services import catalog_store
from velro_graphql.services.catalog import load_catalog

FLUX = "fal-ai/flux-pro/v1.1-ultra"
START = """
mutation($input: StartGenerationInput!) {
  startGeneration(input: $input) {
    generation { id cost } userErrors { field code message }
  }
}"""
MODELS = "{ models { id credits deprecated pricing { unit credits } } }"


def write_entries(tmp_path: Path, entries: list[dict[str, Any]]) -> Path:
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(entries), encoding="utf-8")
    return path


async def until(check: Any, timeout: float = 5.0) -> None:
    """Wait for `check()` to hold (the NOTIFY to arrive and the reload to finish)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not within the time allowed"
        await asyncio.sleep(0.02)


async def test_the_database_is_seeded_from_the_packaged_file(services: AppState) -> None:
    entries = await catalog_store.export_catalog(services.pool)

    packaged = json.loads(
        (Path(__file__).parents[2] / "velro_graphql/catalog/models.json").read_text()
    )
    assert entries == packaged
    assert list(services.runtime.models) == [model.id for model in load_catalog()]


async def test_a_second_seed_keeps_what_operators_changed(services: AppState) -> None:
    await catalog_store.set_model(services.pool, FLUX, credits=99)

    await catalog_store.seed_catalog(services.pool)

    models = await catalog_store.load_models(services.pool)
    assert models[FLUX].credits == 99


async def test_a_bad_file_changes_nothing_and_names_the_entry(
    services: AppState, tmp_path: Path
) -> None:
    before = await catalog_store.export_catalog(services.pool)
    entries = json.loads(json.dumps(before))
    entries[0]["credits"] = 1
    entries[3]["parameters"][0]["type"] = "colour"

    with pytest.raises(ValueError, match=r"catalog entry 3 \('fal-ai/flux-pro'\).*colour"):
        await catalog_store.import_catalog(services.pool, write_entries(tmp_path, entries))

    assert await catalog_store.export_catalog(services.pool) == before


async def test_import_prints_changes_and_deprecates_what_is_missing(
    services: AppState, tmp_path: Path
) -> None:
    entries = await catalog_store.export_catalog(services.pool)
    entries[0]["credits"] = 14
    added = {**entries[1], "id": "fal-ai/new-model", "name": "New"}
    gone = entries.pop(2)

    changes = await catalog_store.import_catalog(
        services.pool, write_entries(tmp_path, [*entries, added])
    )

    assert changes == [
        f"changed {FLUX}: credits 12 -> 14",
        "added fal-ai/new-model",
        f"deprecated {gone['id']} (not in the file)",
    ]
    models = await catalog_store.load_models(services.pool)
    assert models[gone["id"]].deprecated
    assert len(models) == len(entries) + 2  # nothing deleted
    again = await catalog_store.import_catalog(
        services.pool, write_entries(tmp_path, [*entries, added])
    )
    assert again == []


async def test_set_credits_changes_the_next_charge(client: Any, services: AppState) -> None:
    caller = await client.user("price@example.com")
    await catalog_store.set_model(services.pool, FLUX, credits=20)
    await until(lambda: services.runtime.models[FLUX].credits == 20)

    result = await client.execute(
        START, {"input": {"modelId": FLUX, "prompt": "a cat"}}, caller=caller
    )

    assert result.data["startGeneration"]["generation"]["cost"] == 20


async def test_a_deprecated_model_reads_but_cannot_start(client: Any, services: AppState) -> None:
    caller = await client.user("old@example.com")
    await catalog_store.set_model(services.pool, FLUX, deprecated=True)
    await until(lambda: services.runtime.models[FLUX].deprecated)

    listed = await client.execute(MODELS, caller=caller)
    started = await client.execute(
        START, {"input": {"modelId": FLUX, "prompt": "a cat"}}, caller=caller
    )

    assert {"id": FLUX, "credits": 12, "deprecated": True} | {
        "pricing": {"unit": "IMAGE", "credits": 12}
    } in listed.data["models"]
    assert started.data["startGeneration"]["userErrors"][0]["code"] == "MODEL_UNAVAILABLE"
    await catalog_store.set_model(services.pool, FLUX, deprecated=False)
    await until(lambda: not services.runtime.models[FLUX].deprecated)


async def test_a_hidden_model_is_not_listed_but_can_start(client: Any, services: AppState) -> None:
    caller = await client.user("staged@example.com")
    await catalog_store.set_model(services.pool, FLUX, hidden=True)
    await until(lambda: services.runtime.models[FLUX].hidden)

    listed = await client.execute(MODELS, caller=caller)
    started = await client.execute(
        START, {"input": {"modelId": FLUX, "prompt": "a cat"}}, caller=caller
    )

    assert FLUX not in [model["id"] for model in listed.data["models"]]
    assert started.data["startGeneration"]["userErrors"] == []


async def test_research_only_models_are_refused_unless_allowed(client: Any) -> None:
    caller = await client.user("research@example.com")
    given = {"input": {"modelId": "fal-ai/stable-cascade", "prompt": "a cat"}}

    refused = await client.execute(START, given, caller=caller)
    client.services.runtime.settings = client.services.settings.model_copy(
        update={"allow_research_models": True}
    )
    allowed = await client.execute(START, given, caller=caller)

    error = refused.data["startGeneration"]["userErrors"][0]
    assert (error["code"], error["field"]) == ("MODEL_UNAVAILABLE", "modelId")
    assert "research" in error["message"]
    assert allowed.data["startGeneration"]["userErrors"] == []


async def test_an_unknown_model_cannot_be_set(services: AppState) -> None:
    with pytest.raises(ValueError, match="no model 'fal-ai/nope'"):
        await catalog_store.set_model(services.pool, "fal-ai/nope", credits=1)
