"""What we ask a provider about a generation: its request, its webhook URL, and to stop."""

from __future__ import annotations

import hashlib
import hmac
import logging
from uuid import UUID

from velro_graphql.entities import Generation
from velro_graphql.providers.base import Provider, ProviderRequest
from velro_graphql.services.runtime import Runtime

log = logging.getLogger(__name__)


def provider_request(rt: Runtime, generation: Generation) -> ProviderRequest:
    arguments = {"prompt": generation.prompt, **generation.parameters}
    if generation.negative_prompt:
        arguments["negative_prompt"] = generation.negative_prompt
    if generation.image_url:
        arguments["image_url"] = generation.image_url
    model = rt.models.get(generation.model_id)
    return ProviderRequest(
        generation_id=str(generation.id),
        model_id=generation.model_id,
        media_type=model.media_type if model else "image",
        arguments=arguments,
        webhook_url=webhook_url(rt, generation.id),
    )


def webhook_url(rt: Runtime, generation_id: UUID) -> str | None:
    """Where fal reports on a generation; the tag proves the generation id came from us."""
    base = rt.settings.public_base_url
    if not base:
        return None
    tag = webhook_tag(rt, str(generation_id))
    return f"{base.rstrip('/')}/webhooks/fal?generation={generation_id}&tag={tag}"


def webhook_tag(rt: Runtime, generation_id: str) -> str:
    key = (rt.settings.fal_key or "").encode()
    return hmac.new(key, generation_id.encode(), hashlib.sha256).hexdigest()[:32]


async def cancel_at_provider(rt: Runtime, generation: Generation) -> None:
    """Ask the provider to stop work nobody waits for any more; failures are only logged."""
    provider = rt.providers.get(generation.provider)
    if provider is None or generation.provider_request_id is None:
        return
    try:
        with rt.metrics.provider_call(provider.name, "cancel"):
            await provider.cancel(provider_request(rt, generation), generation.provider_request_id)
    except Exception:
        log.warning("could not cancel %s at %s", generation.id, generation.provider, exc_info=True)


async def cancel_stray(provider: Provider, request: ProviderRequest, request_id: str) -> None:
    """Cancel a second provider request for one generation, which nobody would use."""
    log.warning("stray request %s for generation %s: cancelling", request_id, request.generation_id)
    try:
        await provider.cancel(request, request_id)
    except Exception:
        log.warning("could not cancel stray request %s", request_id, exc_info=True)
