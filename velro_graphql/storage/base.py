"""What every storage backend (supabase, local) offers, and how it fails."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

GENERATIONS_BUCKET = "generations"
THUMBNAILS_BUCKET = "thumbnails"
UPLOADS_BUCKET = "uploads"
UPLOAD_TYPES = ("image/jpeg", "image/png", "image/webp")


class StorageError(Exception):
    """The storage backend failed; the caller may retry later."""


class StorageRefused(StorageError):
    """The backend refused our credentials: a configuration to fix, not an outage to wait out."""


class ObjectTooLarge(Exception):
    """A client sent more bytes than its signed upload URL allows."""


class ObjectExists(Exception):
    """A signed upload URL was used again: the object it names is already there."""


@dataclass(frozen=True, slots=True)
class SignedUpload:
    """Where a client PUTs an object's bytes, and the headers it must send with them."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)


class Storage(Protocol):
    name: str

    async def put(self, bucket: str, path: str, data: bytes, *, content_type: str) -> None:
        """Store `data` at `path` (overwriting), with its real content type."""
        ...

    async def sign(self, bucket: str, paths: list[str], *, expires_in: int) -> dict[str, str]:
        """Return a signed, expiring URL for each path that exists (missing ones are left out)."""
        ...

    async def sign_upload(
        self, bucket: str, path: str, *, content_type: str, max_bytes: int, expires_in: int
    ) -> SignedUpload:
        """Return a URL a client may PUT the object to once, for about `expires_in` seconds."""
        ...

    async def read(self, bucket: str, path: str, *, max_bytes: int) -> bytes | None:
        """Return the object's bytes (at most `max_bytes` + 1 of them), or None when absent."""
        ...

    async def remove(self, bucket: str, paths: list[str]) -> None: ...

    async def prepare(self) -> None:
        """Create what the backend needs (buckets, directories) and check that it answers;
        raise StorageError (StorageRefused for refused credentials) saying why not."""
        ...

    async def close(self) -> None: ...
