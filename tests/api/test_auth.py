from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from velro_graphql.api import auth
from velro_graphql.api.auth import (
    Caller,
    TokenVerifier,
    bearer_token,
    local_user_id,
    mint_token,
)
from velro_graphql.errors import ConfigError, Unauthenticated

SECRET = "test-jwt-secret-with-at-least-thirty-two-bytes"
ISSUER = "http://127.0.0.1:54321/auth/v1"
EMAIL = "Ada@Example.com"


@dataclass
class JwksServer:
    """A local JWKS endpoint whose key set a test can change."""

    url: str
    keys: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0
    body: bytes | None = None  # served instead of the key set when set


@dataclass(frozen=True)
class Keys:
    ec_key: ec.EllipticCurvePrivateKey
    rsa_key: rsa.RSAPrivateKey
    rotated_key: ec.EllipticCurvePrivateKey


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys(
        ec_key=ec.generate_private_key(ec.SECP256R1()),
        rsa_key=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        rotated_key=ec.generate_private_key(ec.SECP256R1()),
    )


@pytest.fixture
def jwks_server(keys: Keys) -> Iterator[JwksServer]:
    state = JwksServer(
        url="", keys=[public_jwk(keys.ec_key, "ec-1"), public_jwk(keys.rsa_key, "rsa-1")]
    )

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests += 1
            body = state.body or json.dumps({"keys": state.keys}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_port}/auth/v1/.well-known/jwks.json"
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def verifier(jwks_server: JwksServer) -> TokenVerifier:
    return TokenVerifier(hs256_secret=SECRET, jwks_url=jwks_server.url, issuer=ISSUER)


def public_jwk(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        jwk = jwt.algorithms.ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
        return {**jwk, "kid": kid, "alg": "ES256", "use": "sig"}
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {**jwk, "kid": kid, "alg": "RS256", "use": "sig"}


def user_claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "sub": str(uuid.uuid4()),
        "aud": "authenticated",
        "role": "authenticated",
        "iss": ISSUER,
        "email": "grace@example.com",
        "iat": now,
        "exp": now + 3600,
        "session_id": str(uuid.uuid4()),
        "is_anonymous": False,
    }
    return {**claims, **overrides}


def sign_hs256(claims: dict[str, Any], secret: str = SECRET) -> str:
    return jwt.encode(claims, secret, algorithm="HS256")


def sign_es256(key: ec.EllipticCurvePrivateKey, claims: dict[str, Any], kid: str) -> str:
    return jwt.encode(claims, key, algorithm="ES256", headers={"kid": kid})


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_made_token(header: dict[str, Any], claims: dict[str, Any], hmac_key: bytes) -> str:
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    signature = hmac.new(hmac_key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


async def assert_refused(verifier: TokenVerifier, token: str) -> Unauthenticated:
    with pytest.raises(Unauthenticated) as refused:
        await verifier.verify(token)
    if token:
        assert token not in str(refused.value)
    return refused.value


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


async def test_non_uuid_subject_is_refused(verifier: TokenVerifier) -> None:
    refused = await assert_refused(verifier, sign_hs256(user_claims(sub="admin")))

    assert refused.message == "Token subject is not a user id."


async def test_hs256_is_refused_without_a_secret(jwks_server: JwksServer) -> None:
    verifier = TokenVerifier(hs256_secret=None, jwks_url=jwks_server.url, issuer=ISSUER)

    refused = await assert_refused(verifier, sign_hs256(user_claims()))

    assert refused.message == "Token algorithm not allowed."


async def test_jwks_algorithms_are_refused_without_a_jwks_url(keys: Keys) -> None:
    verifier = TokenVerifier(hs256_secret=SECRET, jwks_url=None, issuer=ISSUER)

    await assert_refused(verifier, sign_es256(keys.ec_key, user_claims(), "ec-1"))


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c", "Bearer x", "e30.e30.e30"])
async def test_malformed_token_is_refused(verifier: TokenVerifier, token: str) -> None:
    await assert_refused(verifier, token)


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
