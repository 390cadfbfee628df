"""fal.ai through fal-client's async queue API.

What fal-client 1.0.3 does, read from its source (`fal_client/client.py`, `auth.py`):

- Hosts. `auth.py` reads `FAL_RUN_HOST` and `FAL_QUEUE_RUN_HOST` once at import, and
  `client.py` builds `QUEUE_URL_FORMAT = f"https://{FAL_QUEUE_RUN_HOST}/"` from them. Submit
  POSTs to `QUEUE_URL_FORMAT + model_id` (`?fal_webhook=...` when given). The handle that
  submit returns follows the `status_url`/`response_url`/`cancel_url` of the reply, but
  `AsyncClient.status/result/cancel(model_id, request_id)` (used here, since a resumed job has
  only the id) rebuild them from `QUEUE_URL_FORMAT` as `{owner}/{alias}/requests/{id}`, the
  endpoint's sub-path dropped. We never build a URL ourselves, so `FAL_QUEUE_RUN_HOST` (plus
  `SSL_CERT_FILE` for a local CA) redirects every call.
- Retries. Every queue call goes through `_async_maybe_retry_request`: up to `MAX_ATTEMPTS`
  (10) tries, exponential backoff from 0.1 s capped at 10 s with jitter (about 33 s in all),
  on 408/409/429, on 502-504 pages that look like nginx's, and on every httpx transport
  error and timeout. A plain 500, or a 503 carrying fal's JSON, is raised at once. Nothing
  in the API limits the attempts per call (only the module-wide `MAX_ATTEMPTS`), with one
  exception: a timeout is not retried when the request carries `X-Fal-Request-Timeout`,
  which `submit(start_timeout=...)` sets.
- Double submits. A submit whose reply times out would be POSTed again: two fal jobs, and we
  would only learn the second id. So submit sends `start_timeout` (which also tells fal to drop
  a request still queued after that long: fal cannot bill us for work we gave up on) and
  uses a generous `submit_timeout`; a timeout then raises `SubmitOutcomeUnknown` instead of a
  silent re-POST. A connection dropped after the POST was sent is still retried inside
  fal-client and cannot be prevented from here. A stray job shows up as a fal webhook whose
  request id matches no stored job (or another id than the one stored for the generation
  named in the webhook URL): cancel it and log it.
- Errors come out as `FalClientHTTPError` (status code, `detail` of fal's JSON as message),
  bare `httpx` transport errors (`ConnectError` for an unreachable host), and `ValueError`
  for a status it cannot parse (`logs` must be a list in every status reply).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import fal_client
import httpx

from velro_graphql.providers.base import (
    LogLine,
    ProviderOutput,
    ProviderRequest,
    ProviderResult,
    ProviderStatus,
    RejectedByProvider,
    SubmitOutcomeUnknown,
    TransientProviderError,
)
from velro_graphql.providers.breaker import CircuitBreaker

_TRANSIENT_HTTP = frozenset({408, 409, 429})
_PERCENT = re.compile(r"(\d{1,3}(?:\.\d+)?)\s*%")
_FRACTION = re.compile(r"\b(\d+)\s*/\s*(\d+)\b")


class FalProvider:
    name = "fal"

    def __init__(
        self,
        key: str,
        *,
        poll_interval: float = 1.0,
        breaker: CircuitBreaker | None = None,
        submit_timeout: float = 120.0,
        start_timeout: float | None = 900.0,
        result_timeout: float = 120.0,
    ) -> None:
        self._key = key
        self._poll_interval = poll_interval
        self._breaker = breaker or CircuitBreaker()
        self._submit_timeout = submit_timeout
        self._start_timeout = start_timeout
        self._result_timeout = result_timeout
        self._fal: fal_client.AsyncClient | None = None

    def _client(self) -> fal_client.AsyncClient:
        # Built on first use, so it belongs to the event loop the worker runs on.
        if self._fal is None:
            self._fal = fal_client.AsyncClient(key=self._key, default_timeout=self._submit_timeout)
        return self._fal

    async def submit(self, request: ProviderRequest) -> str:
        client = self._client()
        with self._breaker.guard(), _translated_errors(submitting=True):
            handle = await client.submit(
                request.model_id,
                arguments=request.arguments,
                webhook_url=request.webhook_url,
                start_timeout=self._start_timeout,
            )
        return str(handle.request_id)

    async def status(self, request: ProviderRequest, request_id: str) -> ProviderStatus:
        client = self._client()
        with self._breaker.guard(), _translated_errors():
            status = await client.status(request.model_id, request_id, with_logs=True)
        return status_from_fal(status)

    async def result(self, request: ProviderRequest, request_id: str) -> ProviderResult:
        """Fetch the output of a completed request (waiting for completion at most
        `result_timeout` seconds)."""
        client = self._client()
        with self._breaker.guard(), _translated_errors():
            handle = await client.get_handle(request.model_id, request_id)
            async with asyncio.timeout(self._result_timeout):
                payload = await handle.get(interval=self._poll_interval)
        return result_from_payload(payload)

    async def cancel(self, request: ProviderRequest, request_id: str) -> None:
        client = self._client()
        with self._breaker.guard(), _translated_errors():
            try:
                await client.cancel(request.model_id, request_id)
            except fal_client.FalClientHTTPError as exc:
                if not _already_completed(exc):
                    raise

    def health(self) -> dict[str, Any]:
        return {"name": self.name, "circuit": self._breaker.state}

    async def close(self) -> None:
        if self._fal is not None:
            # fal-client's AsyncClient has no close(): its httpx client is a cached property.
            http = await self._fal._client
            await http.aclose()
            self._fal = None


def status_from_fal(status: fal_client.Status) -> ProviderStatus:
    if isinstance(status, fal_client.Queued):
        return ProviderStatus("QUEUED", queue_position=status.position)
    if isinstance(status, fal_client.InProgress):
        logs = logs_from_fal(status.logs)
        return ProviderStatus("IN_PROGRESS", progress=progress_from_logs(logs), logs=logs)
    if isinstance(status, fal_client.Completed):
        logs = logs_from_fal(status.logs)
        if status.error:
            return ProviderStatus("FAILED", logs=logs, error=str(status.error))
        return ProviderStatus("COMPLETED", progress=1.0, logs=logs)
    raise ValueError(f"unknown fal status {status!r}")


def logs_from_fal(entries: list[dict[str, Any]] | None) -> tuple[LogLine, ...]:
    return tuple(
        LogLine(str(entry.get("message", "")), _timestamp(entry.get("timestamp")))
        for entry in entries or ()
    )


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def progress_from_logs(logs: tuple[LogLine, ...]) -> float | None:
    """The latest "45%" or "12/50" in the logs, as a fraction."""
    for line in reversed(logs):
        progress = _progress_in(line.message)
        if progress is not None:
            return progress
    return None


def _progress_in(message: str) -> float | None:
    for match in _PERCENT.finditer(message):
        value = float(match.group(1))
        if value <= 100:
            return value / 100
    for match in _FRACTION.finditer(message):
        done, total = int(match.group(1)), int(match.group(2))
        if total > 0 and done <= total:
            return done / total
    return None


def result_from_payload(payload: dict[str, Any]) -> ProviderResult:
    seed = _seed(payload.get("seed"))
    files: list[Any] = list(payload.get("images") or ())
    files += [payload[key] for key in ("image", "video") if isinstance(payload.get(key), dict)]
    flags = _nsfw_flags(payload.get("has_nsfw_concepts"), len(files))
    outputs = tuple(
        _output(f, seed, flagged)
        for f, flagged in zip(files, flags, strict=True)
        if isinstance(f, dict) and f.get("url")
    )
    if not outputs:
        raise RejectedByProvider("fal returned a result without any output file")
    return ProviderResult(outputs=outputs, raw=payload, timings=_timings(payload.get("timings")))


def _output(file: dict[str, Any], seed: str | None, nsfw: bool) -> ProviderOutput:
    return ProviderOutput(
        url=str(file["url"]),
        content_type=file.get("content_type"),
        width=file.get("width"),
        height=file.get("height"),
        seed=seed,
        nsfw=nsfw,
    )


def _nsfw_flags(value: Any, count: int) -> list[bool]:
    """fal's `has_nsfw_concepts`: one flag per image (or one for a single file)."""
    if isinstance(value, bool):
        value = [value] * count
    if not isinstance(value, list):
        value = []
    return [value[i] is True if i < len(value) else False for i in range(count)]


def _timings(value: Any) -> dict[str, float] | None:
    if not isinstance(value, dict):
        return None
    return {
        str(key): float(seconds)
        for key, seconds in value.items()
        if isinstance(seconds, int | float) and not isinstance(seconds, bool)
    }


def _seed(value: Any) -> str | None:
    # Seeds can exceed 2**63: keep them as text.
    if isinstance(value, bool) or value is None:
        return None
    return str(value)


@contextmanager
def _translated_errors(*, submitting: bool = False) -> Iterator[None]:
    try:
        yield
    except fal_client.FalClientHTTPError as exc:
        raise _http_error(exc.status_code, describe_detail(exc.message)) from exc
    except httpx.HTTPStatusError as exc:
        raise _http_error(exc.response.status_code, exc.response.text) from exc
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        raise TransientProviderError(f"cannot reach fal: {exc!r}") from exc
    except (httpx.TransportError, TimeoutError) as exc:
        if submitting:
            raise SubmitOutcomeUnknown(f"fal did not answer the submit: {exc!r}") from exc
        raise TransientProviderError(f"fal did not answer: {exc!r}") from exc


def _http_error(status_code: int, message: str) -> TransientProviderError | RejectedByProvider:
    if status_code in _TRANSIENT_HTTP or status_code >= 500:
        return TransientProviderError(f"fal answered {status_code}: {message}")
    return RejectedByProvider(message)


def describe_detail(detail: Any) -> str:
    """fal's `detail`: a message, or a list of validation errors with `loc` and `msg`."""
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        return "; ".join(_describe_item(item) for item in detail)
    return json.dumps(detail)


def _describe_item(item: Any) -> str:
    if not isinstance(item, dict) or "msg" not in item:
        return json.dumps(item)
    where = ".".join(str(part) for part in item.get("loc", ()) if part != "body")
    return f"{where}: {item['msg']}" if where else str(item["msg"])


def _already_completed(exc: fal_client.FalClientHTTPError) -> bool:
    try:
        body = exc.response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("status") == "ALREADY_COMPLETED"
