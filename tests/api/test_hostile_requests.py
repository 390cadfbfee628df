"""Requests that used to end in a plain 500: list/object JWT algorithms, huge JSON integers;
token clock leeway; the /metrics token."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.api.auth_tokens import (
    SECRET,
    assert_refused,
    hand_made_token,
    sign_hs256,
    user_claims,
)
from tests.api.test_abuse import ME, code
from tests.conftest import app_client
from velro_graphql.api.auth import TokenVerifier
from velro_graphql.api.startup import make_verifier
from velro_graphql.config import Settings


@pytest.mark.parametrize("alg", [["HS256"], {"HS256": 1}, None, 256])
async def test_a_non_string_alg_is_a_malformed_token(verifier: TokenVerifier, alg: Any) -> None:
    token = hand_made_token({"alg": alg, "typ": "JWT"}, user_claims(), SECRET.encode())
    refused = await assert_refused(verifier, token)
    assert refused.message == "Malformed token."


async def test_a_list_alg_over_http_is_unauthenticated(http: Any) -> None:
    token = hand_made_token({"alg": ["HS256"]}, user_claims(), b"k")
    reply = await http.post("/graphql", json=ME, headers={"Authorization": f"Bearer {token}"})
    assert code(reply) == "UNAUTHENTICATED"


async def test_an_integer_past_pythons_digit_limit_is_a_400(http: Any) -> None:
    body = '{"query": "{ me { id } }", "variables": {"n": ' + "9" * 5000 + "}}"
    reply = await http.post("/graphql", content=body, headers={"Content-Type": "application/json"})
    assert reply.status_code == 400


def test_leeway_defaults_to_30_seconds_and_reaches_the_verifier() -> None:
    assert Settings().jwt_leeway_seconds == 30
    assert Settings(jwt_leeway_seconds=5).jwt_leeway_seconds == 5


@pytest.mark.parametrize(
    ("claims", "accepted"),
    [
        ({"exp": -10}, True),  # expired 10 s ago: within the 30 s leeway
        ({"exp": -60}, False),
        ({"nbf": 10}, True),  # valid in 10 s: the issuer's clock is ahead of ours
        ({"iat": 10}, True),
        ({"nbf": 60}, False),
    ],
)
async def test_clock_leeway_applies_to_exp_nbf_and_iat(
    claims: dict[str, int], accepted: bool
) -> None:
    settings = Settings(
        database_url="postgresql://unused/db", supabase_jwt_secret=SECRET, supabase_url=None
    )
    verifier = make_verifier(settings)
    now = int(time.time())
    shifted = {name: now + offset for name, offset in claims.items()}
    token = sign_hs256({k: v for k, v in user_claims(**shifted).items() if k != "iss"})
    if accepted:
        assert (await verifier.verify(token)).claims["sub"]
        assert (await verifier.verify(token)).claims["sub"]  # and again, from the cache
    else:
        await assert_refused(verifier, token)


async def test_metrics_need_the_metrics_token_when_set(settings: Settings) -> None:
    guarded = settings.model_copy(update={"metrics_token": "m" * 32})
    async with app_client(guarded) as http:
        assert (await http.get("/metrics")).status_code == 401
        wrong = await http.get("/metrics", headers={"Authorization": "Bearer " + "n" * 32})
        assert wrong.status_code == 401
        right = await http.get("/metrics", headers={"Authorization": "Bearer " + "m" * 32})
        assert right.status_code == 200
        assert "velro_graphql_operations_total" in right.text
