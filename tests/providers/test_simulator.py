from __future__ import annotations

import io
from typing import Any

import av
import pytest
from PIL import Image

from tests.api.uploads_flow import LEFT, RIGHT, picture
from velro_graphql.providers.base import (
    Provider,
    ProviderError,
    ProviderRequest,
    ProviderStatus,
    RejectedByProvider,
)
from velro_graphql.providers.placeholder import fit_reference, reference_box
from velro_graphql.providers.simulator import SimulatorProvider, render_result


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make_request(
    prompt: str = "a red fox in the snow", *, media_type: str = "image", **arguments: Any
) -> ProviderRequest:
    model_id = "fal-ai/flux-pro" if media_type == "image" else "fal-ai/veo3"
    return ProviderRequest("generation-1", model_id, media_type, {"prompt": prompt, **arguments})


def make_simulator(clock: FakeClock, **speeds: float) -> Provider:
    return SimulatorProvider(
        queue_seconds=speeds.get("queue_seconds", 2.0),
        run_seconds=speeds.get("run_seconds", 6.0),
        clock=clock,
    )


async def watch(provider: Provider, clock: FakeClock, request_id: str) -> list[ProviderStatus]:
    """Poll every quarter of a second until the request settles or 20 seconds pass."""
    request = make_request()
    seen = []
    for _ in range(80):
        seen.append(await provider.status(request, request_id))
        if seen[-1].state in ("COMPLETED", "FAILED"):
            break
        clock.now += 0.25
    return seen


def decode(content: bytes | None) -> Image.Image:
    assert content is not None
    return Image.open(io.BytesIO(content))


async def test_walks_queue_then_progress_then_completes() -> None:
    clock = FakeClock()
    provider = make_simulator(clock)
    request_id = await provider.submit(make_request())

    seen = await watch(provider, clock, request_id)

    states = [status.state for status in seen]
    assert states[0] == "QUEUED"
    assert states[-1] == "COMPLETED"
    assert states == sorted(states, key=["QUEUED", "IN_PROGRESS", "COMPLETED"].index)
    positions = [s.queue_position for s in seen if s.state == "QUEUED"]
    assert list(dict.fromkeys(positions)) == [3, 2, 1, 0]
    running = [s for s in seen if s.state == "IN_PROGRESS"]
    progress = [s.progress or 0.0 for s in running]
    assert progress == sorted(progress)
    assert 0.0 <= progress[0] < 0.1
    assert progress[-1] > 0.9
    log_counts = [len(s.logs) for s in running]
    assert log_counts == sorted(log_counts)
    assert log_counts[-1] > log_counts[0]
    assert seen[-1].progress == 1.0


async def test_logs_read_like_a_model_run_with_times_from_the_submit() -> None:
    clock = FakeClock()
    provider = make_simulator(clock)
    request_id = await provider.submit(make_request())
    clock.now += 8.0

    status = await provider.status(make_request(), request_id)

    messages = [line.message for line in status.logs]
    assert messages[0] == "Loading model fal-ai/flux-pro"
    assert "Step 12/28" in messages
    times = [line.at for line in status.logs if line.at is not None]
    assert len(times) == len(status.logs)
    assert all(at.tzinfo is not None for at in times)
    assert times == sorted(times)
    assert times[0].timestamp() == pytest.approx(1_700_000_002.0)


async def test_zero_speed_completes_at_once() -> None:
    clock = FakeClock()
    provider = make_simulator(clock, queue_seconds=0, run_seconds=0)
    request_id = await provider.submit(make_request())

    status = await provider.status(make_request(), request_id)

    assert status.state == "COMPLETED"
    assert status.logs


async def test_failure_marker_fails_with_a_message() -> None:
    clock = FakeClock()
    provider = make_simulator(clock)
    request = make_request("a cat [simulate-failure]")
    request_id = await provider.submit(request)

    clock.now += 3.0
    assert (await provider.status(request, request_id)).state == "IN_PROGRESS"
    clock.now += 60.0
    status = await provider.status(request, request_id)

    assert status.state == "FAILED"
    assert status.error is not None
    assert "[simulate-failure]" in status.error
    with pytest.raises(RejectedByProvider):
        await provider.result(request, request_id)


async def test_hang_marker_never_finishes() -> None:
    clock = FakeClock()
    provider = make_simulator(clock, queue_seconds=0, run_seconds=0)
    request = make_request("a cat [simulate-hang]")
    request_id = await provider.submit(request)

    first = await provider.status(request, request_id)
    clock.now += 86_400.0
    later = await provider.status(request, request_id)

    assert first.state == later.state == "IN_PROGRESS"
    assert later.progress == first.progress
    with pytest.raises(ProviderError):
        await provider.result(request, request_id)


async def test_a_fresh_instance_resumes_the_same_request() -> None:
    clock = FakeClock()
    request = make_request()
    request_id = await make_simulator(clock).submit(request)

    for elapsed in (0.5, 3.0, 5.5, 9.0):
        clock.now += elapsed
        before = await make_simulator(clock).status(request, request_id)
        after = await make_simulator(clock).status(request, request_id)
        assert after == before


async def test_request_ids_are_unique_and_foreign_ones_are_refused() -> None:
    provider = make_simulator(FakeClock())
    ids = {await provider.submit(make_request()) for _ in range(20)}

    assert len(ids) == 20
    with pytest.raises(RejectedByProvider):
        await provider.status(make_request(), "0f6c1f9e-fal-request")


@pytest.mark.parametrize(
    ("arguments", "size"),
    [
        ({}, (1024, 768)),
        ({"image_size": "landscape_16_9"}, (1024, 576)),
        ({"image_size": "square_hd"}, (1024, 1024)),
        ({"image_size": {"width": 2048, "height": 1024}}, (1024, 512)),
        ({"aspect_ratio": "9:16"}, (576, 1024)),
    ],
)
async def test_renders_a_png_of_the_requested_size(
    arguments: dict[str, Any], size: tuple[int, int]
) -> None:
    provider = make_simulator(FakeClock(), queue_seconds=0, run_seconds=0)
    request = make_request("a lighthouse", **arguments)
    request_id = await provider.submit(request)

    result = await provider.result(request, request_id)

    (output,) = result.outputs
    assert output.url is None
    assert output.content_type == "image/png"
    assert (output.width, output.height) == size
    image = decode(output.content)
    assert image.format == "PNG"
    assert image.size == size
    assert output.seed is not None


async def test_different_prompts_render_differently() -> None:
    provider = make_simulator(FakeClock(), queue_seconds=0, run_seconds=0)
    pictures = []
    for prompt in ("a red fox", "a blue whale"):
        request = make_request(prompt)
        result = await provider.result(request, await provider.submit(request))
        pictures.append(decode(result.outputs[0].content).convert("RGB"))

    assert pictures[0].getpixel((5, 5)) != pictures[1].getpixel((5, 5))


async def test_renders_one_image_per_num_images_up_to_four() -> None:
    provider = make_simulator(FakeClock(), queue_seconds=0, run_seconds=0)
    counts = []
    for num_images in (3, 9):
        request = make_request(num_images=num_images, seed=42)
        result = await provider.result(request, await provider.submit(request))
        counts.append(len(result.outputs))
        assert {output.seed for output in result.outputs} == {"42"}

    assert counts == [3, 4]


async def test_video_models_get_a_multi_frame_mp4() -> None:
    provider = make_simulator(FakeClock(), queue_seconds=0, run_seconds=0)
    request = make_request("waves at night", media_type="video", aspect_ratio="16:9")

    result = await provider.result(request, await provider.submit(request))

    (output,) = result.outputs
    assert output.content_type == "video/mp4" and output.content[4:8] == b"ftyp"
    with av.open(io.BytesIO(output.content)) as container:
        frames = [frame.to_image() for frame in container.decode(video=0)]
    assert len(frames) >= 10
    assert frames[0].size == (output.width, output.height) == (512, 288)
    assert frames[0].tobytes() != frames[-1].tobytes()  # the ball moves


async def test_health_names_the_simulator() -> None:
    provider = make_simulator(FakeClock())

    assert provider.name == "simulator"
    assert provider.health() == {"name": "simulator"}
    await provider.cancel(make_request(), await provider.submit(make_request()))
    await provider.close()


def test_the_picture_shows_the_reference_image_in_its_frame() -> None:
    reference = picture("image/png", (80, 60))
    request = ProviderRequest("g1", "fal-ai/flux-pro/kontext/max", "image", {"prompt": "night"})
    [output] = render_result(request, "sim-1-00000000", reference).outputs
    assert output.content is not None
    rendered = Image.open(io.BytesIO(output.content)).convert("RGB")
    assert_shows_reference(rendered)


def assert_shows_reference(rendered: Image.Image) -> None:
    """The frame's left half is the reference's red, its right half its blue."""
    left, top, right, bottom = fit_reference(
        Image.new("RGB", (80, 60)), reference_box(rendered.size)
    )
    middle = (top + bottom) // 2
    for x, colour in ((left + (right - left) // 4, LEFT), (right - (right - left) // 4, RIGHT)):
        pixel = rendered.getpixel((x, middle))
        assert isinstance(pixel, tuple)
        assert all(abs(a - b) <= 8 for a, b in zip(pixel, colour, strict=True)), (pixel, colour)
