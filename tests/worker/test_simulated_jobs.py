"""A background Worker runs simulated generations to the end: stored, thumbnailed, balanced."""

from __future__ import annotations

import hashlib
import io
from typing import Any

from PIL import Image

from velro_graphql.storage.local import LocalStorage
from velro_graphql.worker.runner import running_worker


def _stored_bytes(sim: Any, bucket: str, path: str) -> bytes:
    storage = sim.rt.storage
    assert isinstance(storage, LocalStorage)
    found = storage.open_file(bucket, path)
    assert found is not None, f"{bucket}/{path} was not stored"
    return found.read_bytes()


async def test_a_simulated_generation_completes_with_stored_outputs(sim: Any) -> None:
    caller = await sim.user()
    generation = await sim.start(caller, parameters={"num_images": 2})
    assert generation.provider == "simulator"

    async with running_worker(sim.rt):
        done = await sim.wait_for(generation.id)

    assert done.status == "COMPLETED"
    assert done.provider_request_id is not None and done.progress == 1
    assert done.started_at is not None and done.completed_at is not None
    outputs = await sim.outputs(caller, generation.id)
    assert [o.position for o in outputs] == [0, 1]
    for output in outputs:
        assert output.stored and output.provider_url is None
        assert output.content_type == "image/png" and output.bucket == "generations"
        assert output.path == f"{caller.user_id}/no-project/{generation.id}/{output.position}.png"
        data = _stored_bytes(sim, "generations", output.path)
        assert data.startswith(b"\x89PNG") and output.byte_size == len(data)
        assert output.sha256 == hashlib.sha256(data).hexdigest()
        assert (output.width, output.height) == Image.open(io.BytesIO(data)).size
        assert sorted(t["size"] for t in output.thumbnails) == [256, 512]
        for thumb in output.thumbnails:
            webp = _stored_bytes(sim, thumb["bucket"], thumb["path"])
            assert webp[:4] == b"RIFF" and webp[8:12] == b"WEBP"
            assert max(Image.open(io.BytesIO(webp)).size) <= thumb["size"]

    assert await sim.job(generation.id) is None
    assert await sim.kinds_for(caller, generation.id) == ["charge"]
    assert await sim.balance(caller) == 1000 - generation.cost
    await sim.assert_books_balance(caller)


async def test_a_simulated_failure_is_failed_and_refunded_once(sim: Any) -> None:
    caller = await sim.user()
    generation = await sim.start(caller, prompt="a red fox [simulate-failure]")

    async with running_worker(sim.rt):
        done = await sim.wait_for(generation.id)

    assert done.status == "FAILED" and done.error_code == "PROVIDER_ERROR"
    assert "[simulate-failure]" in (done.error_message or "")
    assert await sim.outputs(caller, generation.id) == []
    assert await sim.kinds_for(caller, generation.id) == ["charge", "refund"]
    assert await sim.balance(caller) == 1000
    await sim.assert_books_balance(caller)


async def test_a_video_is_stored_with_its_duration_size_and_webp_thumbnails(sim: Any) -> None:
    caller = await sim.user()
    generation = await sim.start(caller, model_id="fal-ai/kling-video/v2.1/master/text-to-video")

    async with running_worker(sim.rt):
        done = await sim.wait_for(generation.id)

    assert done.status == "COMPLETED"
    (output,) = await sim.outputs(caller, generation.id)
    assert output.content_type == "video/mp4" and output.path.endswith("/0.mp4")
    assert output.duration_seconds is not None and output.duration_seconds > 0.5
    assert output.width and output.height and output.byte_size
    assert sorted(t["size"] for t in output.thumbnails) == [256, 512]
    for thumb in output.thumbnails:
        webp = _stored_bytes(sim, thumb["bucket"], thumb["path"])
        assert webp[:4] == b"RIFF" and webp[8:12] == b"WEBP"
        assert max(Image.open(io.BytesIO(webp)).size) == min(thumb["size"], output.width)
