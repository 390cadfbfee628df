"""The embedded default provider when no FAL_KEY is set: fal's lifecycle, played from the clock.

It keeps no state at all. The request id carries the submit time, and every status is computed
from the time elapsed since then, so a worker restarted on another process resumes a request
exactly where it stands. Prompt markers let users and tests see the unhappy paths:
`[simulate-failure]` fails the request halfway through, `[simulate-hang]` never finishes,
`[simulate-nsfw]` flags every output as unsafe (as fal's `has_nsfw_concepts` does).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, TypeGuard

import httpx

from velro_graphql.providers.base import (
    LogLine,
    ProviderError,
    ProviderOutput,
    ProviderRequest,
    ProviderResult,
    ProviderStatus,
    RejectedByProvider,
)
from velro_graphql.providers.placeholder import render_animation, render_image

log = logging.getLogger(__name__)

FAILURE_MARKER = "[simulate-failure]"
HANG_MARKER = "[simulate-hang]"
NSFW_MARKER = "[simulate-nsfw]"
FAILURE_MESSAGE = f"Simulated failure: the prompt contains {FAILURE_MARKER}"
QUEUE_START = 3
# Where in the run a failing request fails and a hanging one stops moving.
STALL_AT = 0.5
MAX_IMAGES = 4
IMAGE_LONG_SIDE = 1024
VIDEO_LONG_SIDE = 512
DEFAULT_IMAGE_SIZE = (1024, 768)
DEFAULT_ASPECT_RATIO = (16, 9)
IMAGE_SIZES = {
    "square_hd": (1024, 1024),
    "square": (512, 512),
    "portrait_4_3": (768, 1024),
    "portrait_16_9": (576, 1024),
    "landscape_4_3": (1024, 768),
    "landscape_16_9": (1024, 576),
}
# What the simulator fetches of a reference image, as fal would fetch it from `image_url`.
MAX_REFERENCE_BYTES = 20 * 1024 * 1024
REFERENCE_TIMEOUT_SECONDS = 10.0
_REQUEST_ID = re.compile(r"sim-(\d+)-[0-9a-f]{8}")
_ASPECT_RATIO = re.compile(r"([1-9]\d*):([1-9]\d*)")


class SimulatorProvider:
    name = "simulator"

    def __init__(
        self,
        *,
        queue_seconds: float = 2.0,
        run_seconds: float = 6.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._queue_seconds = queue_seconds
        self._run_seconds = run_seconds
        self._clock = clock
        self._http: httpx.AsyncClient | None = None

    async def submit(self, request: ProviderRequest) -> str:
        return f"sim-{round(self._clock() * 1000)}-{secrets.token_hex(4)}"

    async def status(self, request: ProviderRequest, request_id: str) -> ProviderStatus:
        submitted = submitted_at(request_id)
        elapsed = max(0.0, self._clock() - submitted)
        if elapsed < self._queue_seconds:
            position = _queue_position(elapsed / self._queue_seconds)
            return ProviderStatus("QUEUED", queue_position=position)
        return self._running_status(request, submitted, self._run_part(elapsed))

    async def result(self, request: ProviderRequest, request_id: str) -> ProviderResult:
        status = await self.status(request, request_id)
        if status.state == "FAILED":
            raise RejectedByProvider(status.error or FAILURE_MESSAGE)
        if status.state != "COMPLETED":
            raise ProviderError(f"simulated request {request_id} is still {status.state}")
        reference = await self._reference(request)
        return await asyncio.to_thread(render_result, request, request_id, reference)

    async def cancel(self, request: ProviderRequest, request_id: str) -> None:
        """Nothing to stop: a simulated request only exists in the clock."""

    def health(self) -> dict[str, Any]:
        return {"name": self.name}

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def _reference(self, request: ProviderRequest) -> bytes | None:
        """The reference image at `image_url`, fetched like fal fetches it; None (and the
        picture is drawn without it) when there is none or it cannot be read."""
        url = request.arguments.get("image_url")
        if not isinstance(url, str):
            return None
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=REFERENCE_TIMEOUT_SECONDS)
        try:
            return await _fetch_capped(self._http, url, MAX_REFERENCE_BYTES)
        except (httpx.HTTPError, ValueError) as error:
            log.warning("simulator: no reference image from %s: %r", url.split("?")[0], error)
            return None

    def _run_part(self, elapsed: float) -> float:
        if self._run_seconds <= 0:
            return 1.0
        return min(1.0, (elapsed - self._queue_seconds) / self._run_seconds)

    def _running_status(
        self, request: ProviderRequest, submitted: float, part: float
    ) -> ProviderStatus:
        prompt = _prompt(request)
        if FAILURE_MARKER in prompt or HANG_MARKER in prompt:
            part = min(part, STALL_AT)
        logs = self._logs(request, submitted, part)
        if FAILURE_MARKER in prompt and part >= STALL_AT:
            failure = LogLine(f"Error: {FAILURE_MESSAGE}", logs[-1].at)
            return ProviderStatus(
                "FAILED", progress=part, logs=(*logs, failure), error=FAILURE_MESSAGE
            )
        if part >= 1.0:
            return ProviderStatus("COMPLETED", progress=1.0, logs=logs)
        return ProviderStatus("IN_PROGRESS", progress=round(part, 3), logs=logs)

    def _logs(self, request: ProviderRequest, submitted: float, part: float) -> tuple[LogLine, ...]:
        started = submitted + self._queue_seconds
        return tuple(
            LogLine(message, datetime.fromtimestamp(started + at * self._run_seconds, UTC))
            for at, message in _script(request)
            if at <= part
        )


def submitted_at(request_id: str) -> float:
    """Read the submit time (unix seconds) out of a simulator request id."""
    match = _REQUEST_ID.fullmatch(request_id)
    if match is None:
        raise RejectedByProvider(f"not a simulator request id: {request_id!r}")
    return int(match.group(1)) / 1000


async def _fetch_capped(http: httpx.AsyncClient, url: str, max_bytes: int) -> bytes:
    async with http.stream("GET", url) as response:
        response.raise_for_status()
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > max_bytes:
                raise ValueError(f"reference image over {max_bytes} bytes")
    return bytes(body)


def render_result(
    request: ProviderRequest, request_id: str, reference: bytes | None = None
) -> ProviderResult:
    """Render the placeholder outputs of a completed request (CPU-bound: run it in a thread)."""
    seed = _seed(request, request_id)
    raw: dict[str, Any] = {"simulated": True, "seed": str(seed), "prompt": _prompt(request)}
    if request.media_type == "image":
        outputs = _images(request, seed, reference)
    else:
        outputs = (_animation(request, seed, reference),)
    if NSFW_MARKER in _prompt(request):
        outputs = tuple(replace(output, nsfw=True) for output in outputs)
    return ProviderResult(outputs, raw)


def _images(
    request: ProviderRequest, seed: int, reference: bytes | None
) -> tuple[ProviderOutput, ...]:
    count = _image_count(request.arguments)
    width, height = image_size(request.arguments)
    return tuple(
        ProviderOutput(
            url=None,
            content=render_image(
                prompt=_prompt(request),
                model_id=request.model_id,
                width=width,
                height=height,
                variant=index,
                caption=f"image {index + 1} of {count}" if count > 1 else "",
                reference=reference,
            ),
            content_type="image/png",
            width=width,
            height=height,
            seed=str(seed),
        )
        for index in range(count)
    )


def _animation(request: ProviderRequest, seed: int, reference: bytes | None) -> ProviderOutput:
    """A short MP4 (H.264, as fal's video models deliver) stands in for the video."""
    width, height = _aspect_size(request.arguments.get("aspect_ratio"), VIDEO_LONG_SIDE)
    content = render_animation(
        prompt=_prompt(request),
        model_id=request.model_id,
        width=width,
        height=height,
        caption="video stand-in",
        reference=reference,
    )
    return ProviderOutput(None, content, "video/mp4", width, height, str(seed))


def image_size(arguments: dict[str, Any]) -> tuple[int, int]:
    """The pixel size fal would produce for these arguments, capped to 1024 px."""
    named = arguments.get("image_size")
    if isinstance(named, str) and named in IMAGE_SIZES:
        return IMAGE_SIZES[named]
    if isinstance(named, dict):
        return _custom_size(named.get("width"), named.get("height"))
    if "aspect_ratio" in arguments:
        return _aspect_size(arguments["aspect_ratio"], IMAGE_LONG_SIDE)
    return DEFAULT_IMAGE_SIZE


def _custom_size(width: object, height: object) -> tuple[int, int]:
    if not _is_positive_int(width) or not _is_positive_int(height):
        return DEFAULT_IMAGE_SIZE
    if max(width, height) <= IMAGE_LONG_SIDE:
        return width, height
    return _fit(width, height, IMAGE_LONG_SIDE)


def _aspect_size(aspect_ratio: object, long_side: int) -> tuple[int, int]:
    match = _ASPECT_RATIO.fullmatch(str(aspect_ratio))
    width, height = (int(match[1]), int(match[2])) if match else DEFAULT_ASPECT_RATIO
    return _fit(width, height, long_side)


def _fit(width: int, height: int, long_side: int) -> tuple[int, int]:
    scale = long_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _is_positive_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _image_count(arguments: dict[str, Any]) -> int:
    count = arguments.get("num_images", 1)
    return min(MAX_IMAGES, count) if _is_positive_int(count) else 1


def _seed(request: ProviderRequest, request_id: str) -> int:
    seed = request.arguments.get("seed")
    if isinstance(seed, int) and not isinstance(seed, bool):
        return seed
    return int.from_bytes(hashlib.sha256(request_id.encode()).digest()[:4], "big")


def _prompt(request: ProviderRequest) -> str:
    prompt = request.arguments.get("prompt")
    return prompt if isinstance(prompt, str) else ""


def _queue_position(part: float) -> int:
    return QUEUE_START - min(QUEUE_START, int(part * (QUEUE_START + 1)))


def _script(request: ProviderRequest) -> Iterator[tuple[float, str]]:
    """Log lines like a diffusion run's, each at its share (0..1) of the run."""
    video = request.media_type != "image"
    steps = 40 if video else 28
    yield 0.0, f"Loading model {request.model_id}"
    yield 0.04, "Model loaded; encoding prompt"
    for step in range(4, steps + 1, 4):
        yield 0.08 + 0.84 * step / steps, f"Step {step}/{steps}"
    yield 0.95, "Encoding video frames" if video else "Decoding latents"
    yield 1.0, "Done (simulated)"
