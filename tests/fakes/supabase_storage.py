"""A fake Supabase Storage server speaking the HTTP paths storage3 calls, run by uvicorn.

`serve(app)` runs any ASGI app on 127.0.0.1 in a background thread; `running_fake_storage()`
runs a `FakeStorage` and yields it with its `url` (the project URL, without /storage/v1). The
project's (empty, as for a legacy HS256 project) JWKS is served at the same URL, as Supabase does.
"""

from __future__ import annotations

import json
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

SERVICE_KEY = "fake-service-role-key-for-tests-only"
# Supabase's signed upload URLs live two hours, whatever the client asks.
SIGNED_UPLOAD_SECONDS = 7200


@dataclass
class StoredObject:
    data: bytes
    content_type: str
    cache_control: str


@dataclass
class Upload:
    bucket: str
    path: str
    content_type: str
    upsert: str | None
    size: int


@dataclass
class FakeStorage:
    """Buckets and objects in memory, with a record of uploads and injectable failures."""

    service_key: str = SERVICE_KEY
    url: str = ""
    buckets: dict[str, dict[str, Any]] = field(default_factory=dict)
    objects: dict[tuple[str, str], StoredObject] = field(default_factory=dict)
    uploads: list[Upload] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    tokens: dict[str, tuple[str, str, float]] = field(default_factory=dict)
    upload_tokens: dict[str, tuple[str, str, float]] = field(default_factory=dict)
    _failures: list[tuple[int, bytes] | None] = field(default_factory=list)
    # While set, every Storage request is answered with it (an outage, a rotated key).
    outage: tuple[int, bytes] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(
        self, n: int = 1, *, status: int = 503, body: bytes | None = None, after: int = 0
    ) -> None:
        """Answer `n` requests, once `after` more have passed, with `status` and an error body."""
        payload = body if body is not None else _error_body(str(status), "Injected", "failure")
        with self._lock:
            self._failures.extend([None] * after + [(status, payload)] * n)

    def go_down(self, status: int = 503, *, body: bytes | None = None) -> None:
        """Answer every Storage request with `status` until `come_back()`."""
        payload = body if body is not None else _error_body(str(status), "Outage", "down")
        self.outage = (status, payload)

    def come_back(self) -> None:
        self.outage = None

    def add_bucket(self, bucket_id: str, *, public: bool = False, **options: Any) -> None:
        now = datetime.now(UTC).isoformat()
        self.buckets[bucket_id] = {
            "id": bucket_id, "name": bucket_id, "owner": "", "public": public,
            "created_at": now, "updated_at": now,
            "file_size_limit": options.get("file_size_limit"),
            "allowed_mime_types": options.get("allowed_mime_types"),
        }  # fmt: skip

    def reset(self) -> None:
        for store in (self.buckets, self.objects, self.tokens, self.upload_tokens):
            store.clear()
        self.uploads.clear()
        self.requests.clear()
        self.outage = None
        with self._lock:
            self._failures.clear()

    def take_failure(self) -> tuple[int, bytes] | None:
        with self._lock:
            return self._failures.pop(0) if self._failures else None

    def app(self) -> ASGIApp:
        prefix = "/storage/v1"
        routes = [
            Route(f"{prefix}/bucket", self.list_buckets, methods=["GET"]),
            Route(f"{prefix}/bucket", self.create_bucket, methods=["POST"]),
            Route(prefix + "/bucket/{bucket}", self.update_bucket, methods=["PUT"]),
            Route(
                prefix + "/object/upload/sign/{bucket}/{path:path}",
                self.sign_upload,
                methods=["POST"],
            ),
            Route(
                prefix + "/object/upload/sign/{bucket}/{path:path}",
                self.signed_upload,
                methods=["PUT"],
            ),
            Route(prefix + "/object/sign/{bucket}", self.sign, methods=["POST"]),
            Route(prefix + "/object/sign/{bucket}/{path:path}", self.read_signed, methods=["GET"]),
            Route(prefix + "/object/{bucket}", self.remove, methods=["DELETE"]),
            Route(prefix + "/object/{bucket}/{path:path}", self.upload, methods=["POST"]),
            Route(prefix + "/object/{bucket}/{path:path}", self.download, methods=["GET"]),
            Route("/auth/v1/.well-known/jwks.json", self.jwks, methods=["GET"]),
        ]
        return _Guard(self, Starlette(routes=routes))

    async def jwks(self, request: Request) -> Response:
        return JSONResponse({"keys": []})

    async def list_buckets(self, request: Request) -> Response:
        return JSONResponse(list(self.buckets.values()))

    async def create_bucket(self, request: Request) -> Response:
        body = await request.json()
        if body["id"] in self.buckets:
            return _error(400, "409", "Duplicate", "The resource already exists")
        self.add_bucket(body["id"], **{k: v for k, v in body.items() if k not in ("id", "name")})
        return JSONResponse({"name": body["id"]})

    async def update_bucket(self, request: Request) -> Response:
        bucket = self.buckets.get(request.path_params["bucket"])
        if bucket is None:
            return _error(404, "404", "Bucket not found", "Bucket not found")
        body = await request.json()
        bucket.update({k: v for k, v in body.items() if k in bucket and k != "id"})
        return JSONResponse({"message": "Successfully updated"})

    async def upload(self, request: Request) -> Response:
        bucket_id, path = request.path_params["bucket"], request.path_params["path"]
        bucket = self.buckets.get(bucket_id)
        if bucket is None:
            return _error(404, "404", "Bucket not found", "Bucket not found")
        async with request.form() as form:
            file, cache_control = form["file"], str(form.get("cacheControl", ""))
            assert isinstance(file, UploadFile)
            data, content_type = await file.read(), file.content_type or ""
        upsert = request.headers.get("x-upsert")
        self.uploads.append(Upload(bucket_id, path, content_type, upsert, len(data)))
        if (refused := _refuse_upload(bucket, content_type, len(data))) is not None:
            return refused
        if (bucket_id, path) in self.objects and upsert != "true":
            return _error(400, "409", "Duplicate", "The resource already exists")
        self.objects[bucket_id, path] = StoredObject(data, content_type, cache_control)
        return JSONResponse({"Id": str(uuid.uuid4()), "Key": f"{bucket_id}/{path}"})

    async def sign_upload(self, request: Request) -> Response:
        """`POST /object/upload/sign/{bucket}/{path}`: a token for one PUT of that object."""
        bucket_id, path = request.path_params["bucket"], request.path_params["path"]
        if bucket_id not in self.buckets:
            return _error(400, "404", "Bucket not found", "Bucket not found")
        token = secrets.token_urlsafe(16)
        self.upload_tokens[token] = (bucket_id, path, time.time() + SIGNED_UPLOAD_SECONDS)
        return JSONResponse({"url": f"/object/upload/sign/{bucket_id}/{path}?token={token}"})

    async def signed_upload(self, request: Request) -> Response:
        """`PUT /object/upload/sign/{bucket}/{path}?token=`: the raw body, with its
        Content-Type, stored once; the same URL again is refused (409)."""
        key = (request.path_params["bucket"], request.path_params["path"])
        grant = self.upload_tokens.get(request.query_params.get("token", ""))
        if grant is None or grant[:2] != key or grant[2] < time.time():
            return _error(400, "400", "InvalidJWT", "invalid signature")
        if key in self.objects:
            return _error(400, "409", "Duplicate", "The resource already exists")
        data, content_type = await request.body(), request.headers.get("content-type", "")
        self.uploads.append(Upload(key[0], key[1], content_type, None, len(data)))
        if (refused := _refuse_upload(self.buckets[key[0]], content_type, len(data))) is not None:
            return refused
        self.objects[key] = StoredObject(data, content_type, "")
        return JSONResponse({"Key": f"{key[0]}/{key[1]}"})

    async def download(self, request: Request) -> Response:
        stored = self.objects.get((request.path_params["bucket"], request.path_params["path"]))
        if stored is None:
            return _error(400, "404", "not_found", "Object not found")
        return Response(stored.data, media_type=stored.content_type)

    async def sign(self, request: Request) -> Response:
        bucket_id = request.path_params["bucket"]
        body = await request.json()
        expires_at = time.time() + int(body["expiresIn"])
        return JSONResponse([self._sign_one(bucket_id, p, expires_at) for p in body["paths"]])

    def _sign_one(self, bucket_id: str, path: str, expires_at: float) -> dict[str, Any]:
        if (bucket_id, path) not in self.objects:
            message = "Either the object does not exist or you do not have access to it"
            return {"error": message, "path": path, "signedURL": None}
        token = secrets.token_urlsafe(16)
        self.tokens[token] = (bucket_id, path, expires_at)
        signed = f"/object/sign/{bucket_id}/{path}?token={token}"
        return {"error": None, "path": path, "signedURL": signed}

    async def read_signed(self, request: Request) -> Response:
        grant = self.tokens.get(request.query_params.get("token", ""))
        key = (request.path_params["bucket"], request.path_params["path"])
        if grant is None or grant[:2] != key or grant[2] < time.time():
            return _error(400, "400", "InvalidJWT", "invalid signature")
        stored = self.objects.get(key)
        if stored is None:
            return _error(400, "404", "not_found", "Object not found")
        return Response(stored.data, media_type=stored.content_type)

    async def remove(self, request: Request) -> Response:
        bucket_id = request.path_params["bucket"]
        body = await request.json()
        removed = [p for p in body["prefixes"] if self.objects.pop((bucket_id, p), None)]
        return JSONResponse([{"bucket_id": bucket_id, "name": p} for p in removed])


class _Guard:
    """Record each request, answer injected failures, and refuse anything but the service key."""

    def __init__(self, fake: FakeStorage, app: ASGIApp) -> None:
        self.fake = fake
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/storage/"):
            request = Request(scope)
            self.fake.requests.append((request.method, request.url.path))
            refusal = self._refusal(request)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _refusal(self, request: Request) -> Response | None:
        failure = self.fake.take_failure() or self.fake.outage
        if failure is not None:
            return Response(failure[1], status_code=failure[0])
        path = request.url.path
        signed_read = request.method == "GET" and path.startswith("/storage/v1/object/sign/")
        signed_put = request.method == "PUT" and path.startswith("/storage/v1/object/upload/sign/")
        if signed_read or signed_put or _is_service_key(request, self.fake.service_key):
            return None  # signed URLs carry their own token
        return _error(400, "403", "Unauthorized", "Invalid key")


def _is_service_key(request: Request, key: str) -> bool:
    return (
        request.headers.get("apikey") == key
        and request.headers.get("authorization") == f"Bearer {key}"
    )


def _refuse_upload(bucket: dict[str, Any], content_type: str, size: int) -> Response | None:
    allowed = bucket.get("allowed_mime_types")
    if allowed and content_type not in allowed:
        message = f"mime type {content_type} is not supported"
        return _error(400, "415", "invalid_mime_type", message)
    limit = bucket.get("file_size_limit")
    if limit and size > limit:
        return _error(400, "413", "Payload too large", "The object exceeded the maximum size")
    return None


def _error_body(status: str, error: str, message: str) -> bytes:
    return json.dumps({"statusCode": status, "error": error, "message": message}).encode()


def _error(http_status: int, status: str, error: str, message: str) -> Response:
    body = {"statusCode": status, "error": error, "message": message}
    return JSONResponse(body, status_code=http_status)


@contextmanager
def serve(app: ASGIApp, *, port: int = 0) -> Iterator[str]:
    """Run `app` with uvicorn on 127.0.0.1 (a free port by default) in a thread; yield its URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    config = uvicorn.Config(
        app, lifespan="off", ws="none", http="h11", log_level="warning",
        access_log=False, timeout_graceful_shutdown=1,
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@contextmanager
def running_fake_storage(*, port: int = 0) -> Iterator[FakeStorage]:
    """Run a FakeStorage; its `url` is what SUPABASE_URL would be."""
    fake = FakeStorage()
    with serve(fake.app(), port=port) as url:
        fake.url = url
        yield fake
