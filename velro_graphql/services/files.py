"""Stored files as the API serves them: the storage it signs URLs with, local signed files,
and the uploads local storage takes through signed PUT URLs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from pathlib import Path

from velro_graphql.db import uploads
from velro_graphql.errors import Forbidden
from velro_graphql.services.runtime import Runtime
from velro_graphql.storage.base import ObjectExists, ObjectTooLarge, Storage
from velro_graphql.storage.local import InvalidObjectPath, LocalStorage

__all__ = ["PutRefused", "Storage", "receive_upload", "signed_file"]


class PutRefused(Exception):
    """A PUT to a signed upload URL that is refused, with the HTTP status that says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def signed_file(
    storage: Storage, bucket: str, path: str, *, expires: str, signature: str
) -> Path | None:
    """The local file a signed URL names; None when there is none (or storage is not local),
    FORBIDDEN for a bad or expired signature."""
    if not isinstance(storage, LocalStorage):
        return None
    if not storage.verify(bucket, path, expires, signature):
        raise Forbidden("Invalid or expired signature.")
    return storage.open_file(bucket, path)


async def receive_upload(
    rt: Runtime,
    bucket: str,
    path: str,
    *,
    query: Mapping[str, str],
    content_type: str,
    body: AsyncIterator[bytes],
) -> int:
    """Store the body of a PUT to a signed upload URL of local storage, once, under its cap."""
    local, cap = _signed_cap(rt.storage, bucket, path, query, content_type)
    async with rt.pool.acquire() as conn:
        if await uploads.pending_at(conn, bucket, path) is None:
            raise PutRefused(409, "This upload is no longer waiting for its file.")
    try:
        return await local.receive(bucket, path, body, max_bytes=cap)
    except ObjectTooLarge as error:
        raise PutRefused(413, f"The file is too large: {error}") from None
    except ObjectExists:
        raise PutRefused(409, "This upload URL was already used.") from None


def _signed_cap(
    storage: Storage, bucket: str, path: str, query: Mapping[str, str], content_type: str
) -> tuple[LocalStorage, int]:
    if not isinstance(storage, LocalStorage):
        raise PutRefused(404, "Uploads go to the storage's own signed URLs.")
    try:
        cap = storage.verify_upload(
            bucket,
            path,
            expires=query.get("expires", ""),
            max_bytes=query.get("max", ""),
            content_type=content_type,
            signature=query.get("signature", ""),
        )
    except InvalidObjectPath:
        cap = None
    if cap is None:
        raise PutRefused(403, "Invalid or expired upload signature (or another Content-Type).")
    return storage, cap
