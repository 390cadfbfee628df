"""Stored files as the API serves them: the storage it signs URLs with, local signed files."""

from __future__ import annotations

from pathlib import Path

from velro_graphql.errors import Forbidden
from velro_graphql.storage.base import Storage
from velro_graphql.storage.local import LocalStorage

__all__ = ["Storage", "signed_file"]


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
