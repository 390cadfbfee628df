"""The requests the fake fal server keeps, and the JSON bodies fal answers with."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from typing import Any, Literal

from PIL import Image

SEED = 2**64 + 5
TIMINGS = {"inference": 2.25}
MP4 = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41\x00\x00\x00\x10mdat" + bytes(8)
FLAGGED = "The prompt was flagged by the content checker"


@dataclass(frozen=True)
class Script:
    """How a request behaves. outcome: "ok"; "error" (COMPLETED carrying an error, and a 422
    with fal's validation `detail` on the response); "never" (IN_PROGRESS forever).
    files: "ok"; "missing" (output URLs answer 404); "stall" (they send a few bytes, then
    nothing for `stall_seconds`). nsfw: fal's `has_nsfw_concepts` flag of each image (unset:
    none flagged)."""

    queued: int = 1
    in_progress: int = 2
    outcome: Literal["ok", "error", "never"] = "ok"
    files: Literal["ok", "missing", "stall"] = "ok"
    media: Literal["image", "video"] | None = None
    stall_seconds: float = 30.0
    nsfw: tuple[bool, ...] = ()


@dataclass
class Job:
    request_id: str
    model_id: str
    arguments: dict[str, Any]
    webhook_url: str | None
    script: Script
    polls: int = 0
    cancelled: bool = False

    @property
    def completed(self) -> bool:
        done = self.polls > self.script.queued + self.script.in_progress
        return self.cancelled or (done and self.script.outcome != "never")

    @property
    def media(self) -> str:
        video = any(word in self.model_id for word in ("video", "veo", "dream-machine"))
        return self.script.media or ("video" if video else "image")


def status_body(job: Job, *, with_logs: bool) -> dict[str, Any]:
    """The status after one more poll; `logs` is always a list, as fal-client requires."""
    body: dict[str, Any] = {"logs": logs(job) if with_logs else []}
    if job.completed:
        return body | {"status": "COMPLETED"} | completion(job)
    if job.polls <= job.script.queued:
        return body | {"status": "IN_QUEUE", "queue_position": job.script.queued - job.polls}
    return body | {"status": "IN_PROGRESS"}


def logs(job: Job) -> list[dict[str, Any]]:
    steps = max(0, job.polls - job.script.queued)
    total = steps + 1 if job.script.outcome == "never" else job.script.in_progress
    stamp = dt.datetime.now(dt.UTC).isoformat()
    return [
        {"message": f"Step {n}/{total}", "level": "INFO", "source": "user", "timestamp": stamp}
        for n in range(1, min(steps, total) + 1)
    ]


def completion(job: Job) -> dict[str, Any]:
    if job.cancelled:
        return {"error": "Request was cancelled", "error_type": "request_cancelled"}
    if job.script.outcome == "error":
        return {"error": "Unprocessable Entity", "error_type": "validation_error"}
    return {"metrics": {"inference_time": 0.42}}


def validation_error() -> dict[str, Any]:
    problem = {"loc": ["body", "prompt"], "msg": FLAGGED, "type": "content_policy_violation"}
    return {"detail": [problem]}


def result_body(job: Job, files_url: str) -> dict[str, Any]:
    """fal's result for the job, its files under `files_url`."""
    stem = f"{files_url}/{job.script.files}/{job.request_id}"
    if job.media == "video":
        video = {"url": f"{stem}-0.mp4", "content_type": "video/mp4", "file_size": len(MP4)}
        return {"video": video | {"file_name": "output.mp4"}, "seed": SEED, "timings": TIMINGS}
    count = int(job.arguments.get("num_images", 1))
    images = [
        {"url": f"{stem}-{n}.png", "width": 64, "height": 48, "content_type": "image/png"}
        for n in range(count)
    ]
    flags = list(job.script.nsfw) or [False] * count
    return {"images": images, "seed": SEED, "has_nsfw_concepts": flags, "timings": TIMINGS}


def webhook_body(job: Job, files_url: str) -> dict[str, Any]:
    body = {"request_id": job.request_id, "gateway_request_id": job.request_id}
    if job.script.outcome == "error":
        error = {"status": "ERROR", "error": "Invalid status code: 422"}
        return body | error | {"payload": validation_error()}
    return body | {"status": "OK", "payload": result_body(job, files_url)}


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 80, 40)).save(buffer, "PNG")
    return buffer.getvalue()
