"""Uploads: pictures users send straight to storage (staged like Shopify's stagedUploadsCreate),
checked from their stored bytes before anything uses them."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar, cast
from uuid import UUID

from velro_graphql.db import uploads
from velro_graphql.db.read_model import NEWEST_FIRST
from velro_graphql.db.session import Queryable, as_service
from velro_graphql.entities import Caller, Page, Upload, UploadStatus
from velro_graphql.errors import BadUserInput, NotFound, UpstreamUnavailable
from velro_graphql.services.pagination import (
    check_first,
    decode_key,
    encode_key,
    make_page,
)
from velro_graphql.services.runtime import Runtime
from velro_graphql.storage.base import UPLOAD_TYPES, UPLOADS_BUCKET, SignedUpload, StorageError
from velro_graphql.storage.media import UnsupportedMedia, describe_image, sniff

log = logging.getLogger(__name__)
T = TypeVar("T")

PURPOSES = ("REFERENCE_IMAGE", "AVATAR")
MAX_FILENAME = 255
_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}


@dataclass(frozen=True, slots=True)
class CreatedUpload:
    upload: Upload
    signed: SignedUpload


@dataclass(frozen=True, slots=True)
class Completed:
    """The upload after its check, and what was wrong with it when it was REJECTED."""

    upload: Upload
    problem: BadUserInput | None = None


async def create_upload(
    rt: Runtime, caller: Caller, *, filename: str, content_type: str, byte_size: int, purpose: str
) -> CreatedUpload:
    """Record a PENDING upload and sign the URL its bytes go to."""
    upload_id = uuid.uuid4()
    path = f"{caller.user_id}/uploads/{upload_id}.{_extension(content_type)}"
    values = {
        "id": upload_id,
        "user_id": caller.user_id,
        "purpose": _purpose(purpose),
        "filename": _filename(filename),
        "content_type": content_type,
        "byte_size": _byte_size(byte_size, rt.settings.max_upload_bytes),
        "bucket": UPLOADS_BUCKET,
        "path": path,
        "expires_in": rt.settings.upload_url_ttl_seconds,
    }
    signed = await _storage_call(
        rt.storage.sign_upload(
            UPLOADS_BUCKET,
            path,
            content_type=content_type,
            max_bytes=rt.settings.max_upload_bytes,
            expires_in=rt.settings.upload_url_ttl_seconds,
        )
    )
    async with as_service(rt.pool) as conn:
        return CreatedUpload(await uploads.insert(conn, values), signed)


async def complete_upload(rt: Runtime, caller: Caller, upload_id: UUID) -> Completed:
    """Check the stored bytes: READY with its dimensions, or REJECTED (and the object deleted)."""
    upload = await _own(rt, caller, upload_id)
    if upload.status != UploadStatus.PENDING:
        return Completed(upload)
    max_bytes = rt.settings.max_upload_bytes
    data = await _storage_call(rt.storage.read(upload.bucket, upload.path, max_bytes=max_bytes))
    if data is None:
        raise BadUserInput("Nothing was uploaded yet: PUT the file to uploadUrl.", field="id")
    try:
        size = await asyncio.to_thread(inspect_image, data, upload.content_type, max_bytes)
    except UnsupportedMedia as problem:
        await _storage_call(rt.storage.remove(upload.bucket, [upload.path]))
        rejected = await _finish(rt, upload, size=None, byte_size=None, error=str(problem))
        return Completed(rejected, BadUserInput(str(problem), field="id"))
    return Completed(await _finish(rt, upload, size=size, byte_size=len(data), error=None))


def inspect_image(data: bytes, declared: str, max_bytes: int) -> tuple[int, int]:
    """The (width, height) of an upload's bytes, if they are the declared image type."""
    if len(data) > max_bytes:
        raise UnsupportedMedia(f"The file is larger than {max_bytes} bytes.")
    content_type, _ = sniff(data)
    if content_type not in UPLOAD_TYPES:
        raise UnsupportedMedia(f"{content_type} is not accepted: send JPEG, PNG or WebP.")
    if content_type != declared:
        raise UnsupportedMedia(f"The file is {content_type}, not the declared {declared}.")
    return describe_image(data)


async def _finish(
    rt: Runtime, upload: Upload, *, size: tuple[int, int] | None, byte_size: int | None,
    error: str | None,
) -> Upload:  # fmt: skip
    async with as_service(rt.pool) as conn:
        held = await uploads.hold_own(conn, upload.user_id, upload.id)
        if held is None or held.status != UploadStatus.PENDING:  # deleted or done meanwhile
            return held or upload
        return await uploads.finish(conn, upload.id, size=size, byte_size=byte_size, error=error)


async def list_uploads(
    conn: Queryable, user_id: UUID, *, first: int | None, after: str | None
) -> Page[Upload]:
    """Return one page of the user's uploads, newest first."""
    size = check_first(first)
    key = decode_key(NEWEST_FIRST, after, field="after")
    rows, total = await uploads.page_for_user(
        conn, user_id, limit=size + 1, after=cast("tuple[datetime, UUID] | None", key)
    )
    return make_page(
        rows,
        first=size,
        total_count=total,
        cursor_of=lambda u: encode_key(NEWEST_FIRST, [u.created_at, u.id]),
    )


async def get_uploads(conn: Queryable, user_id: UUID, ids: list[UUID]) -> list[Upload]:
    return await uploads.by_ids(conn, user_id, ids)


async def delete_upload(rt: Runtime, caller: Caller, upload_id: UUID) -> None:
    """Delete an upload and its object, unless a generation was made from it."""
    async with as_service(rt.pool) as conn:
        upload = await uploads.hold_own(conn, caller.user_id, upload_id)
        if upload is None:
            raise NotFound("No such upload.", field="id")
        if await uploads.in_use(conn, upload_id):
            raise BadUserInput(
                "A generation was made from this upload: it is kept as long as the generation.",
                field="id",
            )
        await _storage_call(rt.storage.remove(upload.bucket, [upload.path]))
        await uploads.delete(conn, upload_id)


async def ready_upload(conn: Queryable, user_id: UUID, upload_id: UUID, *, field: str) -> Upload:
    """The user's READY upload, locked until commit so that it cannot be deleted meanwhile."""
    upload = await uploads.hold_own(conn, user_id, upload_id)
    if upload is None:
        raise NotFound("No such upload.", field=field)
    if upload.status != UploadStatus.READY:
        raise BadUserInput(f"The upload is {upload.status}, not READY.", field=field)
    return upload


async def signed_read_url(rt: Runtime, upload: Upload, *, expires_in: int) -> str:
    """A URL that reads the upload for `expires_in` seconds (what a provider fetches)."""
    signed = await _storage_call(
        rt.storage.sign(upload.bucket, [upload.path], expires_in=expires_in)
    )
    if upload.path not in signed:
        raise UpstreamUnavailable("The uploaded file is missing from storage.")
    return signed[upload.path]


async def remove_stale(rt: Runtime, *, limit: int = 100) -> int:
    """Delete PENDING uploads never completed within `pending_upload_ttl_seconds`."""
    ttl = rt.settings.pending_upload_ttl_seconds
    async with as_service(rt.pool) as conn:
        stale = await uploads.stale_pending(conn, older_than_seconds=ttl, limit=limit)
        if stale:
            await rt.storage.remove(UPLOADS_BUCKET, [u.path for u in stale])
            await uploads.delete_many(conn, [u.id for u in stale])
    return len(stale)


async def _own(rt: Runtime, caller: Caller, upload_id: UUID) -> Upload:
    async with rt.pool.acquire() as conn:
        found = await uploads.by_ids(conn, caller.user_id, [upload_id])
    if not found:
        raise NotFound("No such upload.", field="id")
    return found[0]


async def _storage_call(call: Awaitable[T]) -> T:
    try:
        return await call
    except StorageError as error:
        log.warning("storage failed for an upload: %s", error)
        raise UpstreamUnavailable("Storage is unavailable; try again shortly.") from error


def _extension(content_type: str) -> str:
    if content_type not in _EXTENSIONS:
        raise BadUserInput("contentType must be image/jpeg, image/png or image/webp.",
                           field="contentType")  # fmt: skip
    return _EXTENSIONS[content_type]


def _purpose(purpose: str) -> str:
    if purpose not in PURPOSES:
        raise BadUserInput("purpose must be REFERENCE_IMAGE or AVATAR.", field="purpose")
    return purpose


def _filename(filename: str) -> str:
    name = filename.strip()
    if not 1 <= len(name) <= MAX_FILENAME:
        raise BadUserInput(f"filename must be 1 to {MAX_FILENAME} characters.", field="filename")
    return name


def _byte_size(byte_size: int, max_bytes: int) -> int:
    if not 1 <= byte_size <= max_bytes:
        raise BadUserInput(f"byteSize must be 1 to {max_bytes} bytes.", field="byteSize")
    return byte_size
