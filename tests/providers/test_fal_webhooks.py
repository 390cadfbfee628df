"""fal webhook signatures, checked against the fake fal server's JWKS and signed webhooks."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.fakes.fal_server import SEED, FakeFal
from velro_graphql.providers.base import ProviderRequest
from velro_graphql.providers.fal import FalProvider
from velro_graphql.providers.fal_webhooks import (
    FalWebhookVerifier,
    InvalidWebhook,
    WebhookKeysUnavailable,
)

BODY = json.dumps({"request_id": "req-1", "status": "OK", "payload": {"seed": SEED}}).encode()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def verifier(fake: FakeFal, http: httpx.AsyncClient) -> FalWebhookVerifier:
    return FalWebhookVerifier(f"{fake.url}/.well-known/jwks.json", http)


async def test_a_valid_signature_is_accepted(fake: FakeFal, verifier: FalWebhookVerifier) -> None:
    headers = fake.signed_headers("req-1", BODY)
    assert await verifier.verify(headers, BODY) == "req-1"
    assert await verifier.verify(headers, BODY) == "req-1"
    assert fake.hits["jwks"] == 1


async def test_a_wrong_key_is_refused(fake: FakeFal, verifier: FalWebhookVerifier) -> None:
    headers = fake.signed_headers("req-1", BODY, key=Ed25519PrivateKey.generate())
    with pytest.raises(InvalidWebhook, match="matches none"):
        await verifier.verify(headers, BODY)


@pytest.mark.parametrize("age", [-301, 301])
async def test_a_stale_timestamp_is_refused(
    fake: FakeFal, verifier: FalWebhookVerifier, age: int
) -> None:
    now = int(time.time())
    headers = fake.signed_headers("req-1", BODY, timestamp=now - age)
    assert await verifier.verify(headers, BODY, now=now - age + 299) == "req-1"
    with pytest.raises(InvalidWebhook, match="5 minutes"):
        await verifier.verify(headers, BODY, now=now)


async def test_a_tampered_body_is_refused(fake: FakeFal, verifier: FalWebhookVerifier) -> None:
    headers = fake.signed_headers("req-1", BODY)
    with pytest.raises(InvalidWebhook):
        await verifier.verify(headers, BODY.replace(b"OK", b"ERROR"))


async def test_a_signature_for_another_request_id_is_refused(
    fake: FakeFal, verifier: FalWebhookVerifier
) -> None:
    headers = fake.signed_headers("req-1", BODY) | {"X-Fal-Webhook-Request-Id": "req-2"}
    with pytest.raises(InvalidWebhook):
        await verifier.verify(headers, BODY)


@pytest.mark.parametrize("header", ["Request-Id", "User-Id", "Timestamp", "Signature"])
async def test_a_missing_header_is_refused(
    fake: FakeFal, verifier: FalWebhookVerifier, header: str
) -> None:
    headers = fake.signed_headers("req-1", BODY)
    del headers[f"X-Fal-Webhook-{header}"]
    with pytest.raises(InvalidWebhook, match="missing header"):
        await verifier.verify(headers, BODY)
    assert fake.hits["jwks"] == 0


@pytest.mark.parametrize(("signature", "reason"), [("zz" * 64, "not hex"), ("ab" * 32, "64 bytes")])
async def test_a_malformed_signature_is_refused(
    fake: FakeFal, verifier: FalWebhookVerifier, signature: str, reason: str
) -> None:
    headers = fake.signed_headers("req-1", BODY) | {"X-Fal-Webhook-Signature": signature}
    with pytest.raises(InvalidWebhook, match=reason):
        await verifier.verify(headers, BODY)


async def test_an_unknown_key_triggers_one_refetch(
    fake: FakeFal, verifier: FalWebhookVerifier
) -> None:
    now = time.time()
    await verifier.verify(fake.signed_headers("req-1", BODY), BODY, now=now)
    fake.rotate_key()
    rotated = fake.signed_headers("req-1", BODY)

    assert await verifier.verify(rotated, BODY, now=now + 61) == "req-1"
    assert fake.hits["jwks"] == 2

    foreign = fake.signed_headers("req-1", BODY, key=Ed25519PrivateKey.generate())
    with pytest.raises(InvalidWebhook):
        await verifier.verify(foreign, BODY, now=now + 62)
    assert fake.hits["jwks"] == 2


async def test_unreachable_keys_are_not_an_invalid_webhook(
    fake: FakeFal, http: httpx.AsyncClient
) -> None:
    verifier = FalWebhookVerifier(f"{fake.url}/no-such-jwks", http)
    with pytest.raises(WebhookKeysUnavailable):
        await verifier.verify(fake.signed_headers("req-1", BODY), BODY)


async def test_a_delivered_webhook_verifies(fake: FakeFal, verifier: FalWebhookVerifier) -> None:
    fake.script(queued=0, in_progress=0)
    provider = FalProvider("test-key", poll_interval=0.01)
    sink = f"{fake.url}/webhook-sink"
    request_id = await provider.submit(
        ProviderRequest("gen-1", "fal-ai/flux-pro", "image", {"prompt": "x"}, webhook_url=sink)
    )
    await provider.close()

    assert await fake.deliver_webhook(request_id) == 200
    ((headers, body),) = fake.received_webhooks
    assert await verifier.verify(headers, body) == request_id


async def test_webhooks_for_another_fal_account_are_refused(
    fake: FakeFal, http: httpx.AsyncClient
) -> None:
    ours = FalWebhookVerifier(f"{fake.url}/.well-known/jwks.json", http, user_id="our-account")
    headers = fake.signed_headers("req-1", BODY)
    with pytest.raises(InvalidWebhook, match="another fal account"):
        await ours.verify(headers, BODY)


async def test_failing_key_fetches_are_rate_limited(fake: FakeFal) -> None:
    fetches = 0

    async def down(request: httpx.Request) -> httpx.Response:
        nonlocal fetches
        fetches += 1
        await asyncio.sleep(0.05)  # slow as well as failing: the others arrive meanwhile
        return httpx.Response(503)

    async with httpx.AsyncClient(transport=httpx.MockTransport(down)) as client:
        verifier = FalWebhookVerifier("https://fal.example/jwks", client, retry_interval=10.0)
        headers = fake.signed_headers("req-1", BODY)
        now = time.time()
        burst = await asyncio.gather(
            *(verifier.verify(headers, BODY, now=now) for _ in range(50)), return_exceptions=True
        )
        assert all(isinstance(r, WebhookKeysUnavailable) for r in burst)
        assert fetches == 1
        with pytest.raises(WebhookKeysUnavailable):
            await verifier.verify(headers, BODY, now=now + 9)
        assert fetches == 1
        with pytest.raises(WebhookKeysUnavailable):
            await verifier.verify(headers, BODY, now=now + 11)
        assert fetches == 2
