"""fal's webhooks: signature verification. (The body is not used: a verified webhook only
wakes its job, whose poll reads the state.)

fal signs `request_id + "\\n" + user_id + "\\n" + timestamp + "\\n" + sha256hex(body)` with
ED25519 and sends the hex signature in `X-Fal-Webhook-Signature`; its public keys are a JWKS
of OKP/Ed25519 keys, without key ids, so each cached key is tried in turn.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from collections.abc import Mapping
from typing import Any

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

TIMESTAMP_TOLERANCE = 300.0
_SIGNED_HEADERS = (
    "x-fal-webhook-request-id",
    "x-fal-webhook-user-id",
    "x-fal-webhook-timestamp",
    "x-fal-webhook-signature",
)


class InvalidWebhook(ValueError):
    """Not a webhook fal signed: refuse it and change nothing."""


class WebhookKeysUnavailable(RuntimeError):
    """fal's keys could not be fetched: answer 503 so that fal delivers the webhook again."""


class FalWebhookVerifier:
    """Checks fal's signatures with keys from `jwks_url`, cached for `cache_ttl` seconds and
    fetched again (at most every `refetch_interval` seconds) when no cached key verifies.

    One fetch at a time; after a failed one, none for `retry_interval` seconds: meanwhile
    webhooks are refused (503, fal delivers them again) instead of each fetching the keys.
    """

    def __init__(
        self,
        jwks_url: str,
        client: httpx.AsyncClient,
        *,
        cache_ttl: float = 24 * 3600.0,
        refetch_interval: float = 60.0,
        retry_interval: float = 10.0,
        user_id: str | None = None,
    ) -> None:
        # fal signs every customer's webhooks with the same keys: `user_id` (our fal account)
        # keeps another customer's validly signed webhooks out.
        self._user_id = user_id
        self._jwks_url = jwks_url
        self._http = client
        self._cache_ttl = cache_ttl
        self._refetch_interval = refetch_interval
        self._keys: tuple[Ed25519PublicKey, ...] = ()
        self._retry_interval = retry_interval
        self._fetched_at = float("-inf")
        self._failed_at = float("-inf")
        self._lock = asyncio.Lock()

    async def verify(
        self, headers: Mapping[str, str], body: bytes, *, now: float | None = None
    ) -> str:
        """Return the request id of a webhook fal signed, or raise `InvalidWebhook`."""
        now = time.time() if now is None else now
        request_id, user_id, timestamp, signature_hex = _signed_headers(headers)
        if self._user_id is not None and user_id != self._user_id:
            raise InvalidWebhook("the webhook is for another fal account")
        _check_timestamp(timestamp, now)
        signature = _signature(signature_hex)
        digest = hashlib.sha256(body).hexdigest()
        message = "\n".join((request_id, user_id, timestamp, digest)).encode()
        if _any_verifies(await self._current_keys(now), signature, message):
            return request_id
        if await self._refetch(now) and _any_verifies(self._keys, signature, message):
            return request_id
        raise InvalidWebhook("the signature matches none of fal's keys")

    async def _current_keys(self, now: float) -> tuple[Ed25519PublicKey, ...]:
        async with self._lock:
            if not self._keys or now - self._fetched_at >= self._cache_ttl:
                if now - self._failed_at < self._retry_interval:
                    raise WebhookKeysUnavailable("fal's keys failed to fetch moments ago")
                await self._fetch(now)
        return self._keys

    async def _refetch(self, now: float) -> bool:
        async with self._lock:
            if now - self._fetched_at < self._refetch_interval:
                return False
            await self._fetch(now)
            return True

    async def _fetch(self, now: float) -> None:
        self._fetched_at = now
        try:
            response = await self._http.get(self._jwks_url, timeout=10.0)
            response.raise_for_status()
            self._keys = keys_from_jwks(response.json())
        except (httpx.HTTPError, ValueError) as exc:
            self._failed_at = now
            raise WebhookKeysUnavailable(f"cannot fetch fal's keys: {exc!r}") from exc


def keys_from_jwks(jwks: Any) -> tuple[Ed25519PublicKey, ...]:
    entries = jwks.get("keys") if isinstance(jwks, dict) else None
    keys = tuple(
        Ed25519PublicKey.from_public_bytes(_b64url(entry["x"]))
        for entry in entries or ()
        if isinstance(entry, dict)
        and entry.get("kty") == "OKP"
        and entry.get("crv") == "Ed25519"
        and isinstance(entry.get("x"), str)
    )
    if not keys:
        raise ValueError("the JWKS holds no Ed25519 key")
    return keys


def _b64url(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def _signed_headers(headers: Mapping[str, str]) -> tuple[str, str, str, str]:
    lowered = {name.lower(): value for name, value in headers.items()}
    missing = [name for name in _SIGNED_HEADERS if not lowered.get(name)]
    if missing:
        raise InvalidWebhook(f"missing header {missing[0]}")
    request_id, user_id, timestamp, signature = (lowered[name] for name in _SIGNED_HEADERS)
    return request_id, user_id, timestamp, signature


def _check_timestamp(timestamp: str, now: float) -> None:
    try:
        sent_at = int(timestamp)
    except ValueError as exc:
        raise InvalidWebhook("the timestamp is not a number") from exc
    if abs(now - sent_at) > TIMESTAMP_TOLERANCE:
        raise InvalidWebhook("the timestamp is more than 5 minutes away")


def _signature(signature_hex: str) -> bytes:
    try:
        signature = bytes.fromhex(signature_hex)
    except ValueError as exc:
        raise InvalidWebhook("the signature is not hex") from exc
    if len(signature) != 64:
        raise InvalidWebhook("the signature is not 64 bytes")
    return signature


def _any_verifies(keys: tuple[Ed25519PublicKey, ...], signature: bytes, message: bytes) -> bool:
    for key in keys:
        try:
            key.verify(signature, message)
        except InvalidSignature:
            continue
        return True
    return False
