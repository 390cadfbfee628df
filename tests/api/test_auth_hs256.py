"""HS256 tokens and their claims, the bearer header, local user ids, and what a verifier
needs to be built."""

from __future__ import annotations

import json
import time
import uuid

import jwt
import pytest

from tests.api.auth_tokens import (
    EMAIL,
    ISSUER,
    SECRET,
    assert_refused,
    b64url,
    sign_hs256,
    user_claims,
)
from velro_graphql.api.auth import TokenVerifier, bearer_token, local_user_id, mint_token
from velro_graphql.errors import ConfigError


async def test_minted_hs256_token_is_accepted(verifier: TokenVerifier) -> None:
    token = mint_token(secret=SECRET, email=EMAIL, ttl_seconds=60, issuer=ISSUER)

    caller = await verifier.verify(token)

    assert caller.user_id == local_user_id(EMAIL)
    assert caller.email == EMAIL
    assert caller.claims["role"] == "authenticated"
    assert caller.claims["is_anonymous"] is False


async def test_minted_token_has_supabase_user_claims() -> None:
    token = mint_token(secret=SECRET, email=EMAIL, ttl_seconds=60, issuer=None, now=1_000)

    claims = jwt.decode(token, options={"verify_signature": False})

    assert claims["exp"] - claims["iat"] == 60
    assert claims["aud"] == claims["role"] == "authenticated"
    assert uuid.UUID(claims["session_id"])
    assert "iss" not in claims


async def test_unsigned_supabase_token_is_refused(verifier: TokenVerifier) -> None:
    await assert_refused(verifier, f"supabase_token_{uuid.uuid4()}")


async def test_alg_none_is_refused(verifier: TokenVerifier) -> None:
    header = b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    claims = b64url(json.dumps(user_claims()).encode())

    refused = await assert_refused(verifier, f"{header}.{claims}.")

    assert refused.message == "Token algorithm not allowed."


async def test_wrong_secret_is_refused(verifier: TokenVerifier) -> None:
    token = sign_hs256(user_claims(), secret="another-secret-that-is-also-32-bytes-long")

    refused = await assert_refused(verifier, token)

    assert refused.message == "Invalid token signature."


async def test_expired_token_is_refused(verifier: TokenVerifier) -> None:
    an_hour_ago = int(time.time()) - 3600
    token = mint_token(secret=SECRET, email=EMAIL, ttl_seconds=60, issuer=ISSUER, now=an_hour_ago)

    refused = await assert_refused(verifier, token)

    assert refused.message == "Token expired."


async def test_wrong_audience_is_refused(verifier: TokenVerifier) -> None:
    await assert_refused(verifier, sign_hs256(user_claims(aud="other")))


async def test_wrong_issuer_is_refused(verifier: TokenVerifier) -> None:
    token = mint_token(secret=SECRET, email=EMAIL, ttl_seconds=60, issuer="https://evil.example")

    refused = await assert_refused(verifier, token)

    assert refused.message == "Invalid token issuer."


async def test_anon_role_is_refused(verifier: TokenVerifier) -> None:
    await assert_refused(verifier, sign_hs256(user_claims(role="anon")))


async def test_service_role_key_is_refused(verifier: TokenVerifier) -> None:
    now = int(time.time())
    claims = {"iss": "supabase", "ref": "abc", "role": "service_role", "iat": now, "exp": now + 60}

    await assert_refused(verifier, sign_hs256(claims))


async def test_non_uuid_subject_is_refused(verifier: TokenVerifier) -> None:
    refused = await assert_refused(verifier, sign_hs256(user_claims(sub="admin")))

    assert refused.message == "Token subject is not a user id."


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c", "Bearer x", "e30.e30.e30"])
async def test_malformed_token_is_refused(verifier: TokenVerifier, token: str) -> None:
    await assert_refused(verifier, token)


def test_verifier_needs_a_key_source() -> None:
    with pytest.raises(ConfigError):
        TokenVerifier(hs256_secret=None, jwks_url=None, issuer=None)


def test_verifier_refuses_a_short_secret() -> None:
    with pytest.raises(ConfigError):
        TokenVerifier(hs256_secret="short", jwks_url=None, issuer=None)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Bearer abc.def.ghi", "abc.def.ghi"),
        ("bearer abc", "abc"),
        ("BEARER  abc ", "abc"),
        (None, None),
        ("", None),
        ("Bearer", None),
        ("Bearer ", None),
        ("Basic dXNlcjpwYXNz", None),
        ("abc.def.ghi", None),
        ("Bearer a b", None),
    ],
)
def test_bearer_token(header: str | None, expected: str | None) -> None:
    assert bearer_token(header) == expected


def test_local_user_id_is_stable_and_case_insensitive() -> None:
    assert local_user_id("ada@example.com") == local_user_id(" Ada@Example.COM ")
    assert local_user_id("ada@example.com") == local_user_id("ada@example.com")
    assert local_user_id("ada@example.com") != local_user_id("grace@example.com")
    assert local_user_id("ada@example.com").version == 5
