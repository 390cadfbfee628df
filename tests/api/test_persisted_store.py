"""The persisted-query store under abuse: only signed-in callers register, each registration
spends budget, and the learned documents stay under their byte bound."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.api.test_abuse import bearer, code, post
from tests.conftest import app_client
from velro_graphql.api.persisted import sha256_hex
from velro_graphql.config import Settings


def apq(query: str) -> dict[str, Any]:
    return {"query": query, "extensions": {"persistedQuery": {"sha256Hash": sha256_hex(query)}}}


def padded(n: int, size: int = 10_000) -> str:
    return f"{{ me {{ id }} }} # {n} " + "x" * size


async def test_signed_out_callers_cannot_register(http: Any) -> None:
    reply = await http.post("/graphql", json=apq("{ models { id } }"))
    assert code(reply) == "UNAUTHENTICATED"
    assert http.app.state.services.persisted_queries.learned_bytes == 0


async def test_a_registration_spends_an_operation_of_the_callers_budget(http: Any) -> None:
    first = await post(http, apq("{ me { id } }"))
    assert first.json()["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 58
    again = await post(http, apq("{ me { id } }"))  # known now: nothing to register
    assert again.json()["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 57


async def test_the_store_stays_under_its_byte_bound_and_keeps_known_documents(
    settings: Settings, tmp_path: Path
) -> None:
    known = "{ me { creditsBalance } }"
    (tmp_path / "known.json").write_text(json.dumps([known]))
    bound = 64 * 1024
    bounded = settings.model_copy(
        update={
            "persisted_queries_max_bytes": bound,
            "persisted_queries_file": tmp_path / "known.json",
            "rate_limit_operations_per_minute": 1000,
        }
    )
    async with app_client(bounded) as http:
        store = http.app.state.services.persisted_queries
        for n in range(40):  # ~400 kB sent
            assert "errors" not in (await post(http, apq(padded(n)))).json()
            assert store.learned_bytes <= bound
        assert store.find(sha256_hex(padded(39))) is not None
        assert store.find(sha256_hex(padded(0))) is None  # least recently used: evicted
        by_hash = {"extensions": {"persistedQuery": {"sha256Hash": sha256_hex(known)}}}
        reply = await http.post("/graphql", json=by_hash, headers=bearer())
        assert reply.json()["data"]["me"]["creditsBalance"] == 1000
