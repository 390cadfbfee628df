"""ES256 and RS256 tokens checked against keys fetched from a JWKS endpoint: caching, key
rotation, unknown kids, algorithm confusion and an endpoint that fails."""

from __future__ import annotations

import asyncio
import socket
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from tests.api.auth_tokens import (
    ISSUER,
    SECRET,
    JwksServer,
    Keys,
    assert_refused,
    hand_made_token,
    public_jwk,
    sign_es256,
    sign_hs256,
    user_claims,
)
from velro_graphql.api import auth
from velro_graphql.api.auth import Caller, TokenVerifier
from velro_graphql.services.readiness import Backoff, open_readiness


async def test_es256_token_from_jwks_is_accepted(verifier: TokenVerifier, keys: Keys) -> None:
    claims = user_claims()

    caller = await verifier.verify(sign_es256(keys.ec_key, claims, "ec-1"))

    assert caller == Caller(user_id=uuid.UUID(claims["sub"]), email=claims["email"], claims=claims)


async def test_rs256_token_from_jwks_is_accepted(verifier: TokenVerifier, keys: Keys) -> None:
    claims = user_claims()
    token = jwt.encode(claims, keys.rsa_key, algorithm="RS256", headers={"kid": "rsa-1"})

    caller = await verifier.verify(token)

    assert caller.user_id == uuid.UUID(claims["sub"])


async def test_jwks_is_fetched_once_for_many_tokens(
    verifier: TokenVerifier, keys: Keys, jwks_server: JwksServer
) -> None:
    for _ in range(3):
        await verifier.verify(sign_es256(keys.ec_key, user_claims(), "ec-1"))

    assert jwks_server.requests == 1


async def test_rotated_key_is_fetched_on_unknown_kid(
    jwks_server: JwksServer, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth, "JWKS_REFETCH_COOLDOWN_SECONDS", 0.0)
    verifier = TokenVerifier(hs256_secret=None, jwks_url=jwks_server.url, issuer=ISSUER)
    await verifier.verify(sign_es256(keys.ec_key, user_claims(), "ec-1"))
    jwks_server.keys = [*jwks_server.keys, public_jwk(keys.rotated_key, "ec-2")]

    caller = await verifier.verify(sign_es256(keys.rotated_key, user_claims(), "ec-2"))

    assert isinstance(caller.user_id, uuid.UUID)
    assert jwks_server.requests == 2


async def test_unknown_kid_is_refused(
    verifier: TokenVerifier, keys: Keys, jwks_server: JwksServer
) -> None:
    await verifier.verify(sign_es256(keys.ec_key, user_claims(), "ec-1"))

    refused = await assert_refused(verifier, sign_es256(keys.rotated_key, user_claims(), "nope"))

    assert refused.message == "Unknown signing key."
    assert jwks_server.requests == 1  # within the cooldown: made-up kids cause no refetch


async def test_unknown_kid_is_refused_after_refetch(
    jwks_server: JwksServer, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth, "JWKS_REFETCH_COOLDOWN_SECONDS", 0.0)
    verifier = TokenVerifier(hs256_secret=None, jwks_url=jwks_server.url, issuer=ISSUER)

    await assert_refused(verifier, sign_es256(keys.rotated_key, user_claims(), "nope"))

    assert jwks_server.requests == 2


async def test_hs256_signed_with_jwks_public_key_is_refused(
    verifier: TokenVerifier, keys: Keys, jwks_server: JwksServer
) -> None:
    pem = keys.ec_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    token = hand_made_token({"alg": "HS256", "typ": "JWT", "kid": "ec-1"}, user_claims(), pem)

    await assert_refused(verifier, token)
    jwks_only = TokenVerifier(hs256_secret=None, jwks_url=jwks_server.url, issuer=ISSUER)
    await assert_refused(jwks_only, token)


async def test_alg_that_does_not_match_the_kid_is_refused(
    verifier: TokenVerifier, keys: Keys
) -> None:
    token = jwt.encode(user_claims(), keys.rsa_key, algorithm="RS256", headers={"kid": "ec-1"})

    refused = await assert_refused(verifier, token)

    assert refused.message == "Token algorithm does not match its signing key."


async def test_hs256_is_refused_without_a_secret(jwks_server: JwksServer) -> None:
    verifier = TokenVerifier(hs256_secret=None, jwks_url=jwks_server.url, issuer=ISSUER)

    refused = await assert_refused(verifier, sign_hs256(user_claims()))

    assert refused.message == "Token algorithm not allowed."


async def test_jwks_algorithms_are_refused_without_a_jwks_url(keys: Keys) -> None:
    verifier = TokenVerifier(hs256_secret=SECRET, jwks_url=None, issuer=ISSUER)

    await assert_refused(verifier, sign_es256(keys.ec_key, user_claims(), "ec-1"))


async def test_unreachable_jwks_is_refused_not_raised(keys: Keys) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    verifier = TokenVerifier(hs256_secret=None, jwks_url=f"http://127.0.0.1:{port}/", issuer=None)

    refused = await assert_refused(verifier, sign_es256(keys.ec_key, user_claims(), "ec-1"))

    assert refused.message == "Signing keys are unavailable."


async def test_jwks_that_is_not_json_is_refused_not_raised(
    verifier: TokenVerifier, keys: Keys, jwks_server: JwksServer
) -> None:
    jwks_server.body = b"<html>502 Bad Gateway</html>"

    refused = await assert_refused(verifier, sign_es256(keys.ec_key, user_claims(), "ec-1"))

    assert refused.message == "Signing keys are unavailable."


async def test_readiness_reports_a_failing_jwks_until_it_is_back(
    jwks_server: JwksServer, verifier: TokenVerifier, keys: Keys
) -> None:
    jwks_server.body = b"<html>502 Bad Gateway</html>"
    async with open_readiness(Backoff(check_seconds=0.05, retry_max_seconds=0.05)) as readiness:
        await verifier.watch_keys(readiness)
        [failing] = readiness.failing()
        assert (failing.name, failing.state) == ("auth", "down")
        assert failing.blocking is False  # the HS256 secret still verifies legacy tokens
        assert failing.reason is not None and "not a usable key set" in failing.reason

        jwks_server.body = None
        async with asyncio.timeout(5):
            while readiness.failing():
                await asyncio.sleep(0.02)
        fetched = jwks_server.requests
        caller = await verifier.verify(sign_es256(keys.ec_key, user_claims(), kid="ec-1"))

    assert isinstance(caller, Caller)
    assert jwks_server.requests == fetched  # the probe had already fetched the keys


async def test_without_a_secret_a_failing_jwks_makes_the_process_unready(
    jwks_server: JwksServer,
) -> None:
    verifier = TokenVerifier(hs256_secret=None, jwks_url=jwks_server.url, issuer=ISSUER)
    jwks_server.body = b"{}"
    async with open_readiness(Backoff()) as readiness:
        await verifier.watch_keys(readiness)
        [failing] = readiness.failing()
    assert failing.blocking is True
