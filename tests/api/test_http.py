"""The HTTP surface: health, readiness, GraphiQL, authentication and first sign-in."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from typing import Any

from tests.conftest import app_client
from tests.factories import make_token
from velro_graphql.services.catalog import load_catalog

ME = {"query": "{ me { email creditsBalance } }"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_health_and_ready(http: Any) -> None:
    assert (await http.get("/health")).json() == {"status": "ok"}
    ready = await http.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"]["database"] is True


async def test_graphiql_is_off_when_configured_for_production(http: Any) -> None:
    page = await http.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 404
    introspection = await http.post("/graphql", json={"query": "{ __schema { types { name } } }"})
    assert introspection.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_graphiql_and_introspection_can_be_switched_on(settings: Any) -> None:
    async with app_client(
        settings.model_copy(update={"graphiql": True, "introspection": True})
    ) as http:
        page = await http.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 200
        assert "graphiql" in page.text.lower()
        schema = await http.post("/graphql", json={"query": "{ __schema { types { name } } }"})
        assert "errors" not in schema.json()


async def test_first_sign_in_grants_1000_credits_once_under_concurrency(http: Any) -> None:
    token = make_token("new@example.com")
    replies = await asyncio.gather(
        *(http.post("/graphql", json=ME, headers=bearer(token)) for _ in range(10))
    )
    for reply in replies:
        assert reply.json()["data"]["me"] == {"email": "new@example.com", "creditsBalance": 1000}
    # A second process that never saw this user must not grant again either.
    http.app.state.services.known_users = type(http.app.state.services.known_users)()
    again = await http.post("/graphql", json=ME, headers=bearer(token))
    assert again.json()["data"]["me"]["creditsBalance"] == 1000
    async with http.app.state.services.pool.acquire() as conn:
        grants = await conn.fetchval(
            "SELECT count(*) FROM credit_transactions WHERE kind = 'grant'"
        )
    assert grants == 1


def _unsigned(claims: dict[str, Any], alg: str = "none") -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': alg, 'typ': 'JWT'})}.{part(claims)}."


async def test_forged_tokens_are_unauthenticated_and_create_nothing(http: Any) -> None:
    user = uuid.uuid4()
    forged = [
        f"supabase_token_{user}",
        _unsigned({"sub": str(user), "aud": "authenticated", "role": "authenticated"}),
        make_token("a@example.com", secret="another-secret-that-is-long-enough-0123456789"),
        make_token("a@example.com", exp=1_000),
        make_token("a@example.com", aud="anon"),
        make_token("a@example.com", role="anon"),
        make_token("a@example.com", role="service_role"),
        make_token("a@example.com", sub="not-a-uuid"),
    ]
    for token in forged:
        reply = await http.post("/graphql", json=ME, headers=bearer(token))
        body = reply.json()
        assert body["data"] is None, token
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", token
    malformed = await http.post("/graphql", json=ME, headers={"Authorization": "Token abc"})
    assert malformed.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    async with http.app.state.services.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM profiles") == 0


async def test_a_refused_token_is_refused_even_for_public_fields(http: Any) -> None:
    reply = await http.post(
        "/graphql", json={"query": "{ models { id } }"}, headers=bearer("supabase_token_x")
    )
    assert reply.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    anonymous = await http.post("/graphql", json={"query": "{ models { id credits } }"})
    assert len(anonymous.json()["data"]["models"]) == len(load_catalog())


async def test_works_without_prepared_statements_as_behind_a_transaction_pooler(
    settings: Any,
) -> None:
    pooled = settings.model_copy(update={"db_statement_cache_size": 0})
    async with app_client(pooled) as http:
        token = make_token("pooled@example.com")
        for _ in range(3):
            reply = await http.post("/graphql", json=ME, headers=bearer(token))
            assert reply.json()["data"]["me"]["creditsBalance"] == 1000


async def test_anonymous_sign_ins_get_no_welcome_credits(http: Any) -> None:
    token = make_token("", is_anonymous=True)
    reply = await http.post("/graphql", json=ME, headers=bearer(token))
    assert reply.json()["data"]["me"]["creditsBalance"] == 0


async def test_models_show_the_provider_that_would_serve_them(settings: Any) -> None:
    query = {"query": "{ models { id provider } }"}
    for fal_key, provider in ((None, "simulator"), ("test-fal-key-123456", "fal")):
        async with app_client(settings.model_copy(update={"fal_key": fal_key})) as http:
            models = (await http.post("/graphql", json=query)).json()["data"]["models"]
            assert {m["provider"] for m in models} == {provider}
