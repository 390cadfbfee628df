"""Tokens for the auth tests: their claims, how they are signed and refused, and the key set
that the local JWKS endpoint (the `jwks_server` fixture) serves."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from velro_graphql.api.auth import TokenVerifier
from velro_graphql.errors import Unauthenticated

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
