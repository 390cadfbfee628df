"""FalProvider driving the real fal-client against the fake fal queue server."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

import fal_client.client
import httpx
import pytest
from PIL import Image

from tests.fakes.fal_server import SEED, FakeFal, serve_fake_fal
from velro_graphql.providers.base import (
    ProviderRequest,
    ProviderStatus,
    RejectedByProvider,
    SubmitOutcomeUnknown,
    TransientProviderError,
)
from velro_graphql.providers.breaker import CircuitBreaker, CircuitOpen
from velro_graphql.providers.fal import FalProvider

IMAGE_MODEL = "fal-ai/flux-pro/v1.1-ultra"
VIDEO_MODEL = "fal-ai/kling-video/v2.1/master/text-to-video"


@pytest.fixture
async def make_provider() -> AsyncIterator[Callable[..., FalProvider]]:
    made: list[FalProvider] = []

    def make(**overrides: Any) -> FalProvider:
        breaker = CircuitBreaker(failure_threshold=3, cool_down=0.2)
        made.append(FalProvider("k", **{"poll_interval": 0.01, "breaker": breaker, **overrides}))
        return made[-1]

    yield make
    for provider in made:
        await provider.close()


@pytest.fixture
def provider(make_provider: Callable[..., FalProvider]) -> FalProvider:
    return make_provider()


def make_request(model_id: str = IMAGE_MODEL, **arguments: Any) -> ProviderRequest:
    media_type = "video" if model_id == VIDEO_MODEL else "image"
    return ProviderRequest("gen-1", model_id, media_type, {"prompt": "a red fox", **arguments})


async def run_to_end(provider: FalProvider, request: ProviderRequest) -> tuple[str, ProviderStatus]:
    """Submit the request and poll it until it finishes."""
    request_id = await provider.submit(request)
    for _ in range(20):
        status = await provider.status(request, request_id)
        if status.state in ("COMPLETED", "FAILED"):
            return request_id, status
    raise AssertionError("the request never finished")


async def test_lifecycle_maps_queue_position_logs_and_progress(
    fake: FakeFal, provider: FalProvider
) -> None:
    fake.script(queued=2, in_progress=2)
    request = make_request()
    request_id = await provider.submit(request)
    statuses = [await provider.status(request, request_id) for _ in range(5)]

    assert [(s.state, s.queue_position) for s in statuses[:2]] == [("QUEUED", 1), ("QUEUED", 0)]
    assert [s.state for s in statuses[2:]] == ["IN_PROGRESS", "IN_PROGRESS", "COMPLETED"]
    assert [line.message for line in statuses[3].logs] == ["Step 1/2", "Step 2/2"]
    assert [s.progress for s in statuses[2:4]] == [0.5, 1.0]
    assert statuses[2].logs[0].at is not None and statuses[2].logs[0].at.tzinfo is not None


async def test_result_has_images_and_a_seed_beyond_64_bits(
    fake: FakeFal, provider: FalProvider
) -> None:
    fake.script(queued=0, in_progress=0)
    request = make_request(num_images=2)
    request_id, _ = await run_to_end(provider, request)
    result = await provider.result(request, request_id)

    assert len(result.outputs) == 2
    first = result.outputs[0]
    assert (first.width, first.height, first.content_type) == (64, 48, "image/png")
    assert first.seed == str(SEED) and int(first.seed) > 2**63
    assert first.url is not None and first.url.startswith(fake.url + "/files/")
    async with httpx.AsyncClient() as client:
        png = (await client.get(first.url)).content
    assert Image.open(io.BytesIO(png)).size == (64, 48)


async def test_result_carries_nsfw_flags_timings_and_a_large_seed(
    fake: FakeFal, provider: FalProvider
) -> None:
    fake.script(queued=0, in_progress=0, nsfw=(True, False))
    request = make_request(num_images=2)
    request_id, _ = await run_to_end(provider, request)
    result = await provider.result(request, request_id)

    assert [output.nsfw for output in result.outputs] == [True, False]
    assert not result.all_flagged
    assert result.timings == {"inference": 2.25}
    assert {output.seed for output in result.outputs} == {"18446744073709551621"}


async def test_result_with_every_image_flagged(fake: FakeFal, provider: FalProvider) -> None:
    fake.script(queued=0, in_progress=0, nsfw=(True, True))
    request = make_request(num_images=2)
    request_id, _ = await run_to_end(provider, request)

    assert (await provider.result(request, request_id)).all_flagged


async def test_result_of_a_video_model(fake: FakeFal, provider: FalProvider) -> None:
    fake.script(VIDEO_MODEL, queued=0, in_progress=1)
    request = make_request(VIDEO_MODEL)
    request_id, _ = await run_to_end(provider, request)
    (output,) = (await provider.result(request, request_id)).outputs

    assert output.content_type == "video/mp4" and output.url and output.url.endswith(".mp4")
    async with httpx.AsyncClient() as client:
        assert (await client.get(output.url)).content[4:8] == b"ftyp"


@pytest.mark.parametrize("files", ["missing", "stall"])
async def test_output_urls_can_404_or_stall(
    fake: FakeFal, provider: FalProvider, files: str
) -> None:
    fake.script(queued=0, in_progress=0, files=files, stall_seconds=5.0)
    request = make_request()
    request_id, _ = await run_to_end(provider, request)
    (output,) = (await provider.result(request, request_id)).outputs
    async with httpx.AsyncClient(timeout=0.2) as client:
        if files == "missing":
            assert (await client.get(output.url or "")).status_code == 404
        else:
            with pytest.raises(httpx.ReadTimeout):
                await client.get(output.url or "")


@pytest.mark.parametrize("operation", ["submit", "status"])
async def test_a_5xx_burst_is_transient_then_succeeds(
    fake: FakeFal, provider: FalProvider, operation: str
) -> None:
    request = make_request()
    request_id = await provider.submit(request) if operation == "status" else ""
    fake.fail_next(operation, [503, 500])  # type: ignore[arg-type]
    call = provider.submit if operation == "submit" else lambda r: provider.status(r, request_id)
    for _ in range(2):
        with pytest.raises(TransientProviderError, match="fal answered 5"):
            await call(request)
    await call(request)
    assert fake.submit_count() == 1


async def test_429_and_nginx_pages_are_retried_inside_fal_client(
    fake: FakeFal, provider: FalProvider
) -> None:
    fake.fail_next("submit", [429, 429])
    fake.fail_next("status", [502], ingress=True)
    request = make_request()
    request_id = await provider.submit(request)
    assert (await provider.status(request, request_id)).state == "QUEUED"
    assert (fake.hits["submit"], fake.hits["status"], fake.submit_count()) == (3, 2, 1)


async def test_a_4xx_is_rejected_with_fals_message(fake: FakeFal, provider: FalProvider) -> None:
    fake.fail_next("submit", [422])
    with pytest.raises(RejectedByProvider) as raised:
        await provider.submit(make_request())
    assert str(raised.value) == "prompt: The prompt was flagged by the content checker"
    assert provider.health() == {"name": "fal", "circuit": "closed"}


async def test_a_request_that_fails_with_an_error_payload(
    fake: FakeFal, provider: FalProvider
) -> None:
    fake.script(queued=0, in_progress=1, outcome="error")
    request = make_request()
    request_id, status = await run_to_end(provider, request)
    assert (status.state, status.error) == ("FAILED", "Unprocessable Entity")
    with pytest.raises(RejectedByProvider, match="prompt: The prompt was flagged"):
        await provider.result(request, request_id)


async def test_a_request_that_never_completes(
    fake: FakeFal, make_provider: Callable[..., FalProvider]
) -> None:
    fake.script(queued=0, in_progress=1, outcome="never")
    provider = make_provider(result_timeout=0.2)
    request = make_request()
    request_id = await provider.submit(request)
    assert {(await provider.status(request, request_id)).state for _ in range(5)} == {"IN_PROGRESS"}
    with pytest.raises(TransientProviderError):
        await provider.result(request, request_id)


async def test_cancel_a_queued_request(fake: FakeFal, provider: FalProvider) -> None:
    fake.script(queued=5)
    request = make_request()
    request_id = await provider.submit(request)
    await provider.cancel(request, request_id)
    assert fake.cancels == [request_id]
    assert (await provider.status(request, request_id)).state == "FAILED"


async def test_cancelling_a_finished_request_is_not_an_error(
    fake: FakeFal, provider: FalProvider
) -> None:
    fake.script(queued=0, in_progress=0)
    request = make_request()
    request_id, _ = await run_to_end(provider, request)
    await provider.cancel(request, request_id)
    assert fake.cancels == [request_id]


async def test_a_slow_submit_reply_is_not_posted_again(
    fake: FakeFal, make_provider: Callable[..., FalProvider]
) -> None:
    provider = make_provider(submit_timeout=0.3)
    fake.slow_submit(0.1)
    await provider.submit(make_request())
    fake.slow_submit(1.0)
    with pytest.raises(SubmitOutcomeUnknown):
        await provider.submit(make_request())
    assert fake.submit_count() == 2


async def test_without_start_timeout_fal_client_posts_a_slow_submit_twice(
    fake: FakeFal, make_provider: Callable[..., FalProvider]
) -> None:
    # The pitfall FalProvider's start_timeout guards against, kept as a canary for upgrades.
    provider = make_provider(submit_timeout=0.3, start_timeout=None)
    fake.slow_submit(1.0)
    await provider.submit(make_request())
    assert fake.submit_count() == 2


async def test_an_unreachable_host_is_transient(
    provider: FalProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fal_client.client, "QUEUE_URL_FORMAT", "http://127.0.0.1:9/")
    with pytest.raises(TransientProviderError, match="cannot reach fal"):
        await provider.submit(make_request())


async def test_the_circuit_opens_short_circuits_and_closes_after_cool_down(
    fake: FakeFal, provider: FalProvider
) -> None:
    request = make_request()
    request_id = await provider.submit(request)
    fake.fail_next("status", [500, 500, 500])
    for _ in range(3):
        with pytest.raises(TransientProviderError, match="fal answered 500"):
            await provider.status(request, request_id)
    assert provider.health()["circuit"] == "open"

    with pytest.raises(CircuitOpen):
        await provider.submit(request)
    assert (fake.hits["status"], fake.hits["submit"]) == (3, 1)

    await asyncio.sleep(0.25)
    assert provider.health()["circuit"] == "half_open"
    await provider.status(request, request_id)
    assert provider.health()["circuit"] == "closed"


async def test_a_failed_probe_opens_the_circuit_again(fake: FakeFal, provider: FalProvider) -> None:
    request = make_request()
    request_id = await provider.submit(request)
    fake.fail_next("status", [503] * 4)
    for _ in range(3):
        with pytest.raises(TransientProviderError):
            await provider.status(request, request_id)
    await asyncio.sleep(0.25)
    with pytest.raises(TransientProviderError, match="fal answered 503"):
        await provider.status(request, request_id)
    assert provider.health()["circuit"] == "open"


SUBPROCESS = """
import asyncio, velro_graphql.providers.base as base, velro_graphql.providers.fal as fal
async def main(provider):
    request = base.ProviderRequest("gen-1", "fal-ai/flux-pro", "image", {"prompt": "x"})
    request_id = await provider.submit(request)
    print(request_id, (await provider.status(request, request_id)).state)
    await provider.close()
asyncio.run(main(fal.FalProvider("test-key")))
"""


def test_another_process_reaches_the_fake_through_its_environment() -> None:
    with serve_fake_fal(tls=True) as fake:
        env = os.environ | fake.env() | {"FAL_KEY": "test-key"}
        done = subprocess.run(
            [sys.executable, "-c", SUBPROCESS], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        request_id, state = done.stdout.split()
        assert (state, list(fake.jobs)) == ("QUEUED", [request_id])
