"""Plain HTTP routes: liveness, readiness, fal webhooks and local storage's signed files."""

from __future__ import annotations

import logging
import mimetypes

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from velro_graphql.api.context import AppState
from velro_graphql.errors import Forbidden, Unauthenticated, UpstreamUnavailable
from velro_graphql.services import files
from velro_graphql.services.health import check_readiness
from velro_graphql.services.job_metrics import metrics_allowed

log = logging.getLogger(__name__)
router = APIRouter()


def _services(request: Request) -> AppState:
    services: AppState = request.app.state.services
    return services


@router.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


# The boolean checks /ready has always had, for clients that read them.
_CHECKS = ("database", "storage", "listener", "provider")


@router.get("/ready")
async def ready(request: Request) -> JSONResponse:
    runtime = _services(request).runtime
    report = await check_readiness(runtime)
    checks = {name: name not in report.failing for name in _CHECKS}
    body = {
        "ready": report.ready,
        "checks": checks,
        "providers": {name: p.health() for name, p in runtime.providers.items()},
        "failing": report.failing,
        "degraded": report.degraded,
    }
    return JSONResponse(body, status_code=200 if report.ready else 503)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    services = _services(request)
    if not metrics_allowed(services.settings.metrics_token, request.headers.get("authorization")):
        return JSONResponse(
            {"error": "send Authorization: Bearer <METRICS_TOKEN>"},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    await services.runtime.metrics.refresh(services.runtime.pool)
    return Response(generate_latest(services.metrics.registry), media_type=CONTENT_TYPE_LATEST)


@router.post("/webhooks/fal")
async def fal_webhook(request: Request) -> Response:
    webhooks, query = _services(request).webhooks, request.query_params
    try:
        await webhooks.receive(
            request.headers,
            await request.body(),
            generation=query.get("generation"),
            tag=query.get("tag"),
        )
    except Unauthenticated as error:
        log.warning("refused fal webhook: %s", error)
        return JSONResponse({"error": "invalid signature"}, status_code=401)
    except UpstreamUnavailable:
        return JSONResponse({"error": "signing keys unavailable"}, status_code=503)
    return JSONResponse({"ok": True})


@router.get("/files/{bucket}/{path:path}")
async def signed_file(request: Request, bucket: str, path: str) -> Response:
    query, storage = request.query_params, _services(request).runtime.storage
    try:
        found = files.signed_file(
            storage,
            bucket,
            path,
            expires=query.get("expires", ""),
            signature=query.get("signature", ""),
        )
    except Forbidden:
        return JSONResponse({"error": "invalid or expired signature"}, status_code=403)
    if found is None:
        return Response(status_code=404)
    media_type = mimetypes.guess_type(found.name)[0] or "application/octet-stream"
    return FileResponse(found, media_type=media_type, headers={"X-Content-Type-Options": "nosniff"})


@router.put("/files/{bucket}/{path:path}")
async def signed_upload(request: Request, bucket: str, path: str) -> JSONResponse:
    """Local storage's signed upload URL: the body streams to disk under the signed size cap."""
    try:
        size = await files.receive_upload(
            _services(request).runtime,
            bucket,
            path,
            query=request.query_params,
            content_type=request.headers.get("content-type", ""),
            body=request.stream(),
        )
    except files.PutRefused as refused:
        return JSONResponse({"error": refused.message}, status_code=refused.status)
    return JSONResponse({"Key": f"{bucket}/{path}", "size": size})
