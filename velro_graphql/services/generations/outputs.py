"""Copying provider outputs into our storage: download, sniff, hash, thumbnail, store.

A storage or network failure never fails a good generation: the output keeps the provider's
temporary URL (`stored = false`) and `copy_pending` retries until the copy succeeds.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from uuid import UUID

from velro_graphql.db import generations
from velro_graphql.db import outputs as output_rows
from velro_graphql.db.session import as_service
from velro_graphql.entities import Generation, Output
from velro_graphql.providers.base import ProviderOutput
from velro_graphql.services.runtime import Runtime
from velro_graphql.storage import media
from velro_graphql.storage.base import (
    GENERATIONS_BUCKET,
    THUMBNAILS_BUCKET,
    Storage,
    StorageError,
)
from velro_graphql.storage.download import DownloadError, TransientDownloadError, download
from velro_graphql.storage.video import describe_video

log = logging.getLogger(__name__)


class OutputUnavailable(Exception):
    """The provider's output can never be fetched or is not a media type we accept."""


class RetryLater(Exception):
    """Nothing could be kept of an output (e.g. rendered bytes and storage down): retry."""


async def store_outputs(
    rt: Runtime, generation: Generation, produced: tuple[ProviderOutput, ...]
) -> list[Output]:
    """Store every output that can be stored; keep the provider URL of the others."""
    kept: list[Output] = []
    for position, output in enumerate(produced):
        try:
            kept.append(await _keep(rt, generation, position, output))
        except OutputUnavailable as error:
            log.warning("output %s of %s dropped: %s", position, generation.id, error)
    return kept


async def _keep(rt: Runtime, generation: Generation, position: int, out: ProviderOutput) -> Output:
    try:
        data = out.content if out.content is not None else await _fetch(rt, generation, out.url)
        key = generation_key(generation)
        return await store_bytes(rt, key, position, data, seed=out.seed, nsfw=out.nsfw)
    except (StorageError, TransientDownloadError) as error:
        if out.url is None:
            raise RetryLater(str(error)) from error
        log.warning("output %s of %s not stored yet: %s", position, generation.id, error)
        return _unstored(generation, position, out)


async def _fetch(rt: Runtime, generation: Generation, url: str | None) -> bytes:
    if url is None:
        raise OutputUnavailable("the provider gave neither a URL nor bytes")
    model = rt.models.get(generation.model_id)
    video = model is not None and model.media_type == "video"
    cap = rt.settings.max_video_bytes if video else rt.settings.max_image_bytes
    try:
        return await _download(rt, url, max_bytes=cap)
    except DownloadError as error:
        raise OutputUnavailable(str(error)) from error


async def _download(rt: Runtime, url: str, *, max_bytes: int) -> bytes:
    return await download(
        rt.http,
        url,
        max_bytes=max_bytes,
        allow_insecure=rt.settings.allow_insecure_downloads,
        read_timeout=rt.settings.output_read_timeout_seconds,
    )


def generation_key(generation: Generation) -> tuple[UUID, UUID | None, UUID]:
    return generation.user_id, generation.project_id, generation.id


async def store_bytes(
    rt: Runtime,
    key: tuple[UUID, UUID | None, UUID],
    position: int,
    data: bytes,
    *,
    seed: str | None,
    nsfw: bool = False,
) -> Output:
    """Check, hash and store one file (and its thumbnails); return its stored output."""
    user_id, project_id, generation_id = key
    folder = f"{user_id}/{project_id or 'no-project'}/{generation_id}"
    try:
        content_type, extension = media.sniff(data)
        described = await asyncio.to_thread(_describe, data, content_type)
        thumbnails = await _thumbnails(rt, described.thumbnail_source, f"{folder}/{position}")
    except media.UnsupportedMedia as error:
        raise OutputUnavailable(str(error)) from error
    path = f"{folder}/{position}.{extension}"
    await rt.storage.put(GENERATIONS_BUCKET, path, data, content_type=content_type)
    return Output(
        generation_id=generation_id, position=position, user_id=user_id,
        bucket=GENERATIONS_BUCKET, path=path, provider_url=None, content_type=content_type,
        byte_size=len(data), width=described.width, height=described.height,
        duration_seconds=described.duration_seconds, sha256=media.sha256_hex(data),
        thumbnails=thumbnails, seed=seed, stored=True, nsfw=nsfw,
    )  # fmt: skip


@dataclass(frozen=True)
class _Described:
    width: int
    height: int
    duration_seconds: float | None
    thumbnail_source: bytes  # an image: the file itself, or a video's frame


def _describe(data: bytes, content_type: str) -> _Described:
    if content_type.startswith("video/"):
        video = describe_video(data)
        return _Described(video.width, video.height, video.duration_seconds, video.frame)
    width, height = media.describe_image(data)
    return _Described(width, height, None, data)


async def _thumbnails(rt: Runtime, image: bytes, stem: str) -> list[dict[str, object]]:
    made = await asyncio.to_thread(media.thumbnails, image, media.THUMBNAIL_SIZES)
    entries: list[dict[str, object]] = []
    for size, webp in made.items():
        path = f"{stem}_{size}.webp"
        await rt.storage.put(THUMBNAILS_BUCKET, path, webp, content_type="image/webp")
        entries.append({"size": size, "bucket": THUMBNAILS_BUCKET, "path": path})
    return entries


def _unstored(generation: Generation, position: int, out: ProviderOutput) -> Output:
    return Output(
        generation_id=generation.id, position=position, user_id=generation.user_id,
        bucket=None, path=None, provider_url=out.url, content_type=out.content_type,
        byte_size=None, width=out.width, height=out.height, duration_seconds=None,
        sha256=None, thumbnails=[], seed=out.seed, stored=False, nsfw=out.nsfw,
    )  # fmt: skip


async def copy_pending(rt: Runtime, *, limit: int = 10) -> int:
    """Try again to store outputs that only the provider has; return how many were stored."""
    async with as_service(rt.pool) as conn:
        due = await output_rows.claim_copies(conn, limit=limit)
    stored = 0
    for output in due:
        stored += await _copy_one(rt, output)
    return stored


async def _copy_one(rt: Runtime, output: Output) -> int:
    assert output.provider_url is not None
    try:
        copy = await _copy(rt, output, output.provider_url)
    except (DownloadError, OutputUnavailable) as error:
        log.warning(
            "output %s/%s cannot be copied: %s", output.generation_id, output.position, error
        )
        async with as_service(rt.pool) as conn:
            await output_rows.abandon_copy(conn, output.generation_id, output.position)
        return 0
    except (StorageError, TransientDownloadError) as error:
        log.warning("copy of output %s/%s failed: %s", output.generation_id, output.position, error)
        async with as_service(rt.pool) as conn:
            await output_rows.postpone_copy(conn, output.generation_id, output.position)
        return 0
    async with as_service(rt.pool) as conn:
        kept = await output_rows.upsert(conn, copy)
    if not kept:  # the generation was deleted meanwhile: its files must not outlive it
        await remove_files(rt.storage, [copy])
    return int(kept)


async def _copy(rt: Runtime, output: Output, url: str) -> Output:
    # The larger cap: a copy does not know its model (the first attempt already checked).
    data = await _download(rt, url, max_bytes=rt.settings.max_video_bytes)
    async with rt.pool.acquire() as conn:
        project_id = await generations.project_of(conn, output.generation_id)
    key = (output.user_id, project_id, output.generation_id)
    return await store_bytes(rt, key, output.position, data, seed=output.seed, nsfw=output.nsfw)


async def remove_files(storage: Storage, stored: list[Output]) -> None:
    """Remove stored outputs and their thumbnails; a failure is only logged (best effort)."""
    try:
        for output in stored:
            if output.bucket and output.path:
                await storage.remove(output.bucket, [output.path])
            for thumb in output.thumbnails:
                await storage.remove(str(thumb["bucket"]), [str(thumb["path"])])
    except StorageError:
        log.warning("could not remove the files of an ended generation", exc_info=True)
