"""Supabase access tokens: verify them locally, and mint local ones for the embedded default."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

import jwt

from velro_graphql.entities import Caller
from velro_graphql.errors import ConfigError, Unauthenticated
from velro_graphql.services.readiness import Dependency, Readiness, Unavailable

logger = logging.getLogger(__name__)

AUDIENCE = "authenticated"
USER_ROLE = "authenticated"
REQUIRED_CLAIMS = ["exp", "sub", "aud", "role"]
JWKS_ALGORITHMS = frozenset({"ES256", "RS256"})
MIN_SECRET_BYTES = 32
JWKS_LIFESPAN_SECONDS = 600
JWKS_TIMEOUT_SECONDS = 5
# Unknown kids force a JWKS refetch at most this often, so a stream of made-up kids cannot
# hammer the JWKS endpoint or hold the client's lock.
JWKS_REFETCH_COOLDOWN_SECONDS = 30.0

# Order matters: InvalidSignatureError is a DecodeError, and all are InvalidTokenErrors.
_VERIFIED_CACHE_SIZE = 10_000

_REASONS: tuple[tuple[type[jwt.PyJWTError], str], ...] = (
    (jwt.ExpiredSignatureError, "Token expired."),
    (jwt.ImmatureSignatureError, "Token not yet valid."),
    (jwt.InvalidSignatureError, "Invalid token signature."),
    (jwt.InvalidAudienceError, "Invalid token audience."),
    (jwt.InvalidIssuerError, "Invalid token issuer."),
    (jwt.MissingRequiredClaimError, "Token is missing a required claim."),
    (jwt.InvalidAlgorithmError, "Token algorithm not allowed."),
    (jwt.DecodeError, "Malformed token."),
)


class TokenVerifier:
    def __init__(
        self,
        *,
        hs256_secret: str | None,
        jwks_url: str | None,
        issuer: str | None,
        leeway: int = 0,
        signature_hint: str | None = None,
    ) -> None:
        """`signature_hint` ends the refusal of a badly signed token: which secret to sign with."""
        if hs256_secret is None and jwks_url is None:
            raise ConfigError("Token verification needs a JWT secret or a JWKS URL.")
        if hs256_secret is not None and len(hs256_secret.encode()) < MIN_SECRET_BYTES:
            raise ConfigError(f"The JWT secret must be at least {MIN_SECRET_BYTES} bytes.")
        self._secret = hs256_secret
        self._jwks = None if jwks_url is None else _jwks_client(jwks_url)
        self._issuer = issuer
        self._leeway = leeway
        self._signature_hint = signature_hint
        self._verified: dict[str, Caller] = {}

    async def watch_keys(self, readiness: Readiness) -> None:
        """Report the JWKS's state in readiness and keep it fetched (when there is one)."""
        jwks, has_secret = self._jwks, self._secret is not None
        if jwks is not None:
            # With an HS256 secret too, only asymmetric tokens fail while the JWKS is away.
            keys = Dependency("auth", blocking=not has_secret)
            await readiness.watch(keys, lambda: _check_jwks(jwks, has_secret=has_secret))

    async def verify(self, token: str) -> Caller:
        # A browser sends the same token with every request until it refreshes it: verifying
        # it once is enough while it has not expired.
        cached = self._verified.get(token)
        if cached is not None and cached.claims["exp"] + self._leeway > time.time() + 1:
            return cached
        header = _unverified_header(token)
        key = await self._key_for(header)
        caller = _caller_from(self._decode(token, key, header["alg"]))
        self._remember(token, caller)
        return caller

    def _remember(self, token: str, caller: Caller) -> None:
        if len(self._verified) >= _VERIFIED_CACHE_SIZE:
            self._verified.clear()
        self._verified[token] = caller

    async def _key_for(self, header: dict[str, Any]) -> str | jwt.PyJWK:
        alg = header.get("alg")
        if alg == "HS256" and self._secret is not None:
            return self._secret
        if alg in JWKS_ALGORITHMS and self._jwks is not None:
            return await _signing_key(self._jwks, header.get("kid"), alg)
        raise Unauthenticated("Token algorithm not allowed.")

    def _decode(self, token: str, key: str | jwt.PyJWK, alg: str) -> dict[str, Any]:
        try:
            return jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=AUDIENCE,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.PyJWTError as exc:
            reason = _reason(exc)
            if isinstance(exc, jwt.InvalidSignatureError) and self._signature_hint:
                reason = f"Invalid token signature: {self._signature_hint}"
            raise Unauthenticated(reason) from None


def bearer_token(authorization: str | None) -> str | None:
    parts = (authorization or "").split()
    if len(parts) == 2 and parts[0].lower() == "bearer":
        return parts[1]
    return None


def local_user_id(email: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"mailto:{email.strip().lower()}")


def mint_token(
    *, secret: str, email: str, ttl_seconds: int, issuer: str | None, now: int | None = None
) -> str:
    """Sign an HS256 token shaped like a Supabase user access token."""
    issued_at = int(time.time()) if now is None else now
    claims: dict[str, Any] = {
        "sub": str(local_user_id(email)),
        "aud": AUDIENCE,
        "role": USER_ROLE,
        "email": email.strip(),
        "iat": issued_at,
        "exp": issued_at + ttl_seconds,
        "session_id": str(uuid.uuid4()),
        "is_anonymous": False,
    }
    if issuer is not None:
        claims["iss"] = issuer
    return jwt.encode(claims, secret, algorithm="HS256")


def _jwks_client(url: str) -> jwt.PyJWKClient:
    # No per-kid cache (cache_keys): it never expires, so a key revoked in Supabase would stay
    # trusted until restart. The JWK set cache below already avoids a fetch per request.
    return jwt.PyJWKClient(
        url,
        lifespan=JWKS_LIFESPAN_SECONDS,
        timeout=JWKS_TIMEOUT_SECONDS,
        cooldown_duration=JWKS_REFETCH_COOLDOWN_SECONDS,
    )


def _unverified_header(token: str) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise Unauthenticated("Malformed token.") from None
    if not isinstance(header.get("alg"), str):  # a list or object would fail set lookups
        raise Unauthenticated("Malformed token.")
    return header


async def _signing_key(jwks: jwt.PyJWKClient, kid: Any, alg: str) -> jwt.PyJWK:
    if not isinstance(kid, str) or not kid:
        raise Unauthenticated("Token has no key id.")
    jwk = await _fetch_signing_key(jwks, kid)
    if jwk.algorithm_name != alg:
        raise Unauthenticated("Token algorithm does not match its signing key.")
    return jwk


async def _fetch_signing_key(jwks: jwt.PyJWKClient, kid: str) -> jwt.PyJWK:
    try:
        return await asyncio.to_thread(jwks.get_signing_key, kid)
    except jwt.PyJWKClientConnectionError as exc:
        logger.warning("Cannot fetch the JWKS: %s", exc)
        raise Unauthenticated("Signing keys are unavailable.") from None
    except jwt.PyJWKClientError:
        raise Unauthenticated("Unknown signing key.") from None
    except (jwt.PyJWTError, OSError, ValueError) as exc:
        # A JWKS endpoint answering with something that is not a usable key set.
        logger.warning("Cannot use the JWKS: %r", exc)
        raise Unauthenticated("Signing keys are unavailable.") from None


async def _check_jwks(jwks: jwt.PyJWKClient, *, has_secret: bool) -> None:
    """Fetch the JWK set when its cache is empty or stale; raise Unavailable if it cannot be."""
    try:
        await asyncio.to_thread(jwks.get_jwk_set)
    except jwt.PyJWKSetError:
        if not has_secret:  # a legacy (HS256) project publishes an empty set
            raise Unavailable(f"The JWKS at {jwks.uri} has no usable keys") from None
    except jwt.PyJWKClientConnectionError as exc:
        raise Unavailable(f"Cannot fetch the JWKS at {jwks.uri}: {exc}") from None
    except (jwt.PyJWTError, OSError, ValueError) as exc:
        raise Unavailable(f"The JWKS at {jwks.uri} is not a usable key set: {exc!r}") from None


def _reason(exc: jwt.PyJWTError) -> str:
    return next((reason for kind, reason in _REASONS if isinstance(exc, kind)), "Invalid token.")


def _caller_from(claims: dict[str, Any]) -> Caller:
    if claims["role"] != USER_ROLE:
        raise Unauthenticated("Token is not a user access token.")
    try:
        user_id = uuid.UUID(claims["sub"])
    except (TypeError, ValueError):
        raise Unauthenticated("Token subject is not a user id.") from None
    email = claims.get("email")
    return Caller(
        user_id=user_id, email=email if isinstance(email, str) and email else None, claims=claims
    )
