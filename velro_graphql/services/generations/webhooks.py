"""fal webhooks: a verified notice that a request changed; the job then polls it at once.

Applying the poll's answer (rather than the webhook body) keeps one code path for every
transition, so a duplicate or replayed webhook changes nothing.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Mapping
from uuid import UUID

from velro_graphql.db import generation_updates as updates
from velro_graphql.db import jobs
from velro_graphql.db.session import Queryable, as_service
from velro_graphql.entities import Generation
from velro_graphql.errors import Unauthenticated, UpstreamUnavailable
from velro_graphql.providers.fal_webhooks import (
    FalWebhookVerifier,
    InvalidWebhook,
    WebhookKeysUnavailable,
)
from velro_graphql.services.generations.requests import cancel_stray, provider_request, webhook_tag
from velro_graphql.services.runtime import Runtime

log = logging.getLogger(__name__)


class FalWebhooks:
    """fal's webhooks as they arrive: verified with fal's keys, then applied."""

    def __init__(self, rt: Runtime) -> None:
        settings = rt.settings
        self._rt = rt
        self._verifier = FalWebhookVerifier(
            settings.fal_webhook_jwks_url, rt.http, user_id=settings.fal_user_id
        )

    async def receive(
        self, headers: Mapping[str, str], body: bytes, *, generation: str | None, tag: str | None
    ) -> None:
        """Apply a webhook fal signed; UNAUTHENTICATED for any other, UPSTREAM_UNAVAILABLE
        while fal's keys cannot be fetched (fal then delivers it again)."""
        outcomes = self._rt.metrics.webhooks
        try:
            request_id = await self._verifier.verify(headers, body)
        except InvalidWebhook as error:
            outcomes.labels("invalid").inc()
            raise Unauthenticated(str(error)) from error
        except WebhookKeysUnavailable as error:
            outcomes.labels("keys_unavailable").inc()
            raise UpstreamUnavailable(str(error)) from error
        outcomes.labels("verified").inc()
        await handle_fal(self._rt, request_id, generation=generation, tag=tag)


async def handle_fal(
    rt: Runtime, request_id: str, *, generation: str | None, tag: str | None = None
) -> None:
    """Wake the job of the generation fal's request belongs to; adopt or cancel strays."""
    if generation is not None and not _tagged(rt, generation, tag):
        generation = None  # not a URL we gave fal: never adopt on its word
    stray: Generation | None = None
    async with as_service(rt.pool) as conn:
        generation_id = await updates.by_provider_request(conn, "fal", request_id)
        if generation_id is None:
            generation_id, stray = await _adopt(conn, request_id, _uuid(generation))
        if generation_id is not None:
            await jobs.wake(conn, generation_id)
    if stray is not None:
        await _cancel_stray(rt, stray, request_id)


async def _adopt(
    conn: Queryable, request_id: str, generation_id: UUID | None
) -> tuple[UUID | None, Generation | None]:
    """Attach a request whose submit reply was lost, or return it as a stray: a second request
    for one generation (fal-client resubmits after a slow reply) that nobody would pay for."""
    if generation_id is None:
        log.warning("fal webhook for unknown request %s", request_id)
        return None, None
    found = await updates.get(conn, generation_id)
    if found is None or found.provider != "fal":
        return None, None
    if await updates.set_request_id(conn, generation_id, request_id):
        return generation_id, None
    return None, found


async def _cancel_stray(rt: Runtime, generation: Generation, request_id: str) -> None:
    provider = rt.providers.get("fal")
    if provider is not None:
        await cancel_stray(provider, provider_request(rt, generation), request_id)


def _tagged(rt: Runtime, generation: str, tag: str | None) -> bool:
    return tag is not None and hmac.compare_digest(tag, webhook_tag(rt, generation))


def _uuid(value: str | None) -> UUID | None:
    try:
        return UUID(value) if value else None
    except ValueError:
        return None
