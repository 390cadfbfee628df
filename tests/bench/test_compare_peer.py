"""bench/compare.py compares like with like: both dashboards map to the same plain values.

The real PostGraphile runs only where `npm ci` installed it in bench/postgraphile; nothing here
times anything.
"""

from __future__ import annotations

import base64
import importlib
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

PROJECT = uuid.UUID("8436ac3a-6bc1-463c-bdc4-3110d6807791")
GENERATION = uuid.UUID("3c79aafd-c33a-4262-b5d8-1f1dab74040e")


def relay_id(type_name: str, id_: uuid.UUID) -> str:
    return base64.b64encode(f"{type_name}:{id_}".encode()).decode()


def node_id(type_name: str, id_: uuid.UUID) -> str:
    return base64.b64encode(json.dumps([type_name, str(id_)]).encode()).decode()


def response(encode: Any, root: str, projects: str, generations: str, **generation: Any) -> Any:
    node = {"status": "COMPLETED", "modelId": "fal-ai/flux-pro", "prompt": "a lighthouse"}
    node = {**node, "cost": 50, "id": encode("Generation", GENERATION), **generation}
    project = {
        "id": encode("Project", PROJECT),
        "name": "Project 0",
        "generationCount": 1,
        generations: {"totalCount": 1, "edges": [{"node": node}]},
    }
    page = {"totalCount": 1, "pageInfo": {"hasNextPage": False, "endCursor": "opaque"}}
    me = {"email": "a@example.com", "creditsBalance": 950}
    return {root: {**me, projects: {**page, "edges": [{"node": project}]}}}


def ours(**generation: Any) -> Any:
    return response(relay_id, "me", "projects", "generations", **generation)


def theirs(**generation: Any) -> Any:
    root = "postgraphileBenchCurrentProfile"
    return response(node_id, root, "projectsByUserId", "generationsByProjectId", **generation)


def test_both_dashboards_map_to_the_same_plain_values() -> None:
    peer = importlib.import_module("peer")
    values = peer.ours_values(ours())
    assert values == peer.postgraphile_values(theirs())
    assert values["projects"][0]["id"] == PROJECT
    assert values["projects"][0]["generations"][0]["id"] == GENERATION


@pytest.mark.parametrize(
    "difference", [{"prompt": "another"}, {"cost": 51}, {"id": relay_id("Generation", PROJECT)}]
)
def test_a_differing_value_makes_them_differ(difference: dict[str, Any]) -> None:
    peer = importlib.import_module("peer")
    assert peer.ours_values(ours(**difference)) != peer.postgraphile_values(theirs())


async def test_postgraphile_answers_the_dashboard_with_our_values(
    database_url: str, tmp_path: Path
) -> None:
    peer = importlib.import_module("peer")
    if not peer.installed():
        pytest.skip(f"PostGraphile is not installed (cd {peer.PEER_DIR} && npm ci)")
    compare = importlib.import_module("compare")
    assert await compare.check_same_values(database_url, tmp_path) == 545
