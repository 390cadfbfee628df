"""A fake fal queue server speaking the HTTP that fal-client 1.0.3 uses, with fault injection.

Run it with `serve_fake_fal()` (uvicorn in a background thread on 127.0.0.1, a free port).
fal-client builds every queue URL from `fal_client.client.QUEUE_URL_FORMAT`, computed at its
import from `FAL_QUEUE_RUN_HOST` as `https://{host}/`. Two ways to point it here:

- In this process: `pointed_at(fake)` sets `QUEUE_URL_FORMAT` to `fake.url + "/"` (plain
  http) for the duration of the block.
- In another process (a server under end-to-end test): `serve_fake_fal(tls=True)` serves
  https with a throwaway CA, and `fake.env()` gives `FAL_QUEUE_RUN_HOST=127.0.0.1:PORT` and
  `SSL_CERT_FILE` (certifi's roots plus that CA, which httpx trusts). Add them to that
  process's environment before it starts; nothing else changes.

Lifecycles are driven by status polls (see `fal_payloads.Script`): `IN_QUEUE` for `queued`
polls (the position counts down to 0), `IN_PROGRESS` with step logs for `in_progress` polls,
then `COMPLETED`. Every request is recorded in `jobs`, every HTTP call counted in `hits`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import tempfile
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, Literal

import fal_client.client
import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.fakes.fal_payloads import (
    MP4,
    SEED,
    Job,
    Script,
    png,
    result_body,
    status_body,
    validation_error,
    webhook_body,
)
from tests.fakes.fal_signing import WebhookSigner
from tests.fakes.tls import TlsFiles, write_tls_files

__all__ = ["SEED", "FakeFal", "fast_fal_retries", "pointed_at", "serve_fake_fal"]

Operation = Literal["submit", "status", "result", "cancel"]
NGINX_PAGE = "<html><body><h1>{code}</h1><hr><center>nginx</center></body></html>"


class FakeFal:
    def __init__(self, port: int, tls: TlsFiles | None = None) -> None:
        self.port = port
        self.tls = tls
        self.signer = WebhookSigner()
        self.jobs: dict[str, Job] = {}
        self.hits: Counter[str] = Counter()
        self.cancels: list[str] = []
        self.received_webhooks: list[tuple[dict[str, str], bytes]] = []
        self.released = threading.Event()
        self.reset()

    def reset(self) -> None:
        """Forget requests, counts, scripts and pending faults (keys stay)."""
        self.jobs.clear()
        self.hits.clear()
        self.cancels.clear()
        self.received_webhooks.clear()
        self._scripts: dict[str | None, Script] = {None: Script()}
        self._faults: dict[str, deque[tuple[int, bool]]] = {}
        self._submit_delays: deque[float] = deque()

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """The environment that points fal-client in another process here (needs tls)."""
        assert self.tls, "serve the fake with tls=True: fal-client's hosts are always https"
        return {"FAL_QUEUE_RUN_HOST": f"127.0.0.1:{self.port}", "SSL_CERT_FILE": self.tls.ca_bundle}

    def script(self, model_id: str | None = None, **changes: Any) -> None:
        """Script requests submitted from now on, for one model or (None) all the others."""
        self._scripts[model_id] = Script(**changes)

    def fail_next(self, operation: Operation, codes: list[int], *, ingress: bool = False) -> None:
        """Answer the next calls of `operation` with these codes: fal's JSON, or with `ingress`
        an nginx page (which fal-client retries itself on 502-504). A 422 carries fal's
        validation `detail`."""
        self._faults.setdefault(operation, deque()).extend((code, ingress) for code in codes)

    def slow_submit(self, seconds: float, *, times: int = 1) -> None:
        """Accept the next submits, then wait this long before answering."""
        self._submit_delays.extend([seconds] * times)

    def submit_count(self, model_id: str | None = None) -> int:
        return sum(1 for job in self.jobs.values() if model_id in (None, job.model_id))

    def rotate_key(self) -> None:
        self.signer.rotate()

    def signed_headers(self, request_id: str, body: bytes, **options: Any) -> dict[str, str]:
        return self.signer.headers(request_id, body, **options)

    async def send_webhook(self, url: str, request_id: str, payload: dict[str, Any]) -> int:
        """POST this webhook body to `url`, signed as fal signs it; return the status code."""
        body = json.dumps(payload).encode()
        headers = self.signer.headers(request_id, body)
        async with httpx.AsyncClient() as client:
            response = await client.post(url, content=body, headers=headers)
        return response.status_code

    async def deliver_webhook(self, request_id: str) -> int:
        """Send the webhook fal would send for this request to its `fal_webhook` URL."""
        job = self.jobs[request_id]
        assert job.webhook_url, "the request was submitted without a webhook"
        body = webhook_body(job, f"{self.url}/files")
        return await self.send_webhook(job.webhook_url, request_id, body)

    def app(self) -> Starlette:
        requests = "/{owner}/{alias}/requests/{request_id}"
        return Starlette(
            routes=[
                Route("/.well-known/jwks.json", self._jwks),
                Route("/files/{mode}/{name}", self._file),
                Route("/webhook-sink", self._sink, methods=["POST"]),
                Route(requests + "/status", self._status),
                Route(requests + "/cancel", self._cancel, methods=["PUT"]),
                Route(requests, self._response),
                Route("/{model_id:path}", self._submit, methods=["POST"]),
            ]
        )

    def _fault(self, operation: Operation) -> Response | None:
        self.hits[operation] += 1
        pending = self._faults.get(operation)
        if not pending:
            return None
        code, ingress = pending.popleft()
        if ingress:
            return Response(NGINX_PAGE.format(code=code), code, media_type="text/html")
        body = validation_error() if code == 422 else {"detail": f"Injected failure {code}"}
        return JSONResponse(body, code)

    async def _submit(self, request: Request) -> Response:
        if fault := self._fault("submit"):
            return fault
        if not request.headers.get("authorization", "").startswith("Key "):
            return JSONResponse({"detail": "No user found for Key ID and Secret"}, 401)
        model_id = request.path_params["model_id"]
        job = Job(
            request_id=str(uuid.uuid4()),
            model_id=model_id,
            arguments=await request.json(),
            webhook_url=request.query_params.get("fal_webhook"),
            script=self._scripts.get(model_id, self._scripts[None]),
        )
        self.jobs[job.request_id] = job
        if self._submit_delays:
            await self._pause(self._submit_delays.popleft())
        return JSONResponse(self._links(job) | {"status": "IN_QUEUE", "queue_position": 0})

    def _links(self, job: Job) -> dict[str, str]:
        owner, alias = job.model_id.split("/")[:2]
        base = f"{self.url}/{owner}/{alias}/requests/{job.request_id}"
        return {
            "request_id": job.request_id,
            "response_url": base,
            "status_url": f"{base}/status",
            "cancel_url": f"{base}/cancel",
        }

    def _job(self, operation: Operation, request: Request) -> Job | Response:
        if fault := self._fault(operation):
            return fault
        job = self.jobs.get(request.path_params["request_id"])
        return job or JSONResponse({"detail": "Request not found"}, 404)

    async def _status(self, request: Request) -> Response:
        job = self._job("status", request)
        if not isinstance(job, Job):
            return job
        job.polls += 1
        with_logs = request.query_params.get("logs") in ("1", "true")
        links = {"response_url": self._links(job)["response_url"]}
        return JSONResponse(status_body(job, with_logs=with_logs) | links)

    async def _response(self, request: Request) -> Response:
        job = self._job("result", request)
        if not isinstance(job, Job):
            return job
        if not job.completed or job.cancelled:
            detail = "Request was cancelled" if job.cancelled else "Request is still in progress"
            return JSONResponse({"detail": detail}, 400)
        if job.script.outcome == "error":
            return JSONResponse(validation_error(), 422)
        return JSONResponse(result_body(job, f"{self.url}/files"))

    async def _cancel(self, request: Request) -> Response:
        job = self._job("cancel", request)
        if not isinstance(job, Job):
            return job
        self.cancels.append(job.request_id)
        if job.completed:
            return JSONResponse({"status": "ALREADY_COMPLETED"}, 400)
        job.cancelled = True
        return JSONResponse({"status": "CANCELLATION_REQUESTED"}, 202)

    async def _file(self, request: Request) -> Response:
        mode, name = request.path_params["mode"], request.path_params["name"]
        content, media_type = (MP4, "video/mp4") if name.endswith(".mp4") else (png(), "image/png")
        if mode == "missing":
            return Response("Not Found", 404)
        if mode == "stall":
            job = self.jobs.get(name.rsplit("-", 1)[0])
            seconds = job.script.stall_seconds if job else 30.0
            return StreamingResponse(self._stalled(content, seconds), media_type=media_type)
        return Response(content, media_type=media_type)

    async def _stalled(self, content: bytes, seconds: float) -> AsyncIterator[bytes]:
        yield content[:16]
        await self._pause(seconds)
        yield content[16:]

    async def _jwks(self, request: Request) -> Response:
        self.hits["jwks"] += 1
        return JSONResponse(self.signer.jwks())

    async def _sink(self, request: Request) -> Response:
        self.received_webhooks.append((dict(request.headers), await request.body()))
        return JSONResponse({"received": True})

    async def _pause(self, seconds: float) -> None:
        # Stopping the server releases every pause, so a stalled reply cannot hold it up.
        await asyncio.to_thread(self.released.wait, seconds)


@contextlib.contextmanager
def serve_fake_fal(*, tls: bool = False) -> Iterator[FakeFal]:
    """Run a FakeFal on 127.0.0.1 in a background thread for the duration of the block."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    files = write_tls_files(Path(tempfile.mkdtemp(prefix="fake-fal-"))) if tls else None
    fake = FakeFal(sock.getsockname()[1], files)
    config = uvicorn.Config(
        fake.app(),
        log_level="warning",
        access_log=False,
        lifespan="off",
        ssl_certfile=files.cert if files else None,
        ssl_keyfile=files.key if files else None,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            assert thread.is_alive(), "the fake fal server did not start"
            time.sleep(0.01)
        yield fake
    finally:
        fake.released.set()
        server.should_exit = True
        thread.join()
        sock.close()


@contextlib.contextmanager
def pointed_at(fake: FakeFal) -> Iterator[None]:
    """Send this process's fal-client queue calls to the fake."""
    saved = fal_client.client.QUEUE_URL_FORMAT
    fal_client.client.QUEUE_URL_FORMAT = fake.url + "/"
    try:
        yield
    finally:
        fal_client.client.QUEUE_URL_FORMAT = saved


@contextlib.contextmanager
def fast_fal_retries(delay: float = 0.01) -> Iterator[None]:
    """Shrink fal-client's own retry backoff (about 33 s in all) for tests."""
    saved = fal_client.client._get_retry_delay
    fal_client.client._get_retry_delay = lambda *args, **kwargs: delay
    try:
        yield
    finally:
        fal_client.client._get_retry_delay = saved
