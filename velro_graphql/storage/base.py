"""What every storage backend (supabase, local) offers, and how it fails."""

from __future__ import annotations

from typing import Protocol

GENERATIONS_BUCKET = "generations"
THUMBNAILS_BUCKET = "thumbnails"


class StorageError(Exception):
    """The storage backend failed; the caller may retry later."""


class StorageRefused(StorageError):
    """The backend refused our credentials: a configuration to fix, not an outage to wait out."""


class Storage(Protocol):
    name: str

    async def put(self, bucket: str, path: str, data: bytes, *, content_type: str) -> None:
        """Store `data` at `path` (overwriting), with its real content type."""
        ...

    async def sign(self, bucket: str, paths: list[str], *, expires_in: int) -> dict[str, str]:
        """Return a signed, expiring URL for each path that exists (missing ones are left out)."""
        ...

    async def remove(self, bucket: str, paths: list[str]) -> None: ...

    async def prepare(self) -> None:
        """Create what the backend needs (buckets, directories) and check that it answers;
        raise StorageError (StorageRefused for refused credentials) saying why not."""
        ...

    async def close(self) -> None: ...
