"""Supabase Storage through storage3, with the service key on a client no user ever signs into."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from storage3 import AsyncStorageClient
from storage3.exceptions import StorageApiError
from storage3.types import CreateOrUpdateBucketOptions, FileOptions
from storage3.utils import StorageException

from velro_graphql.storage.base import (
    GENERATIONS_BUCKET,
    THUMBNAILS_BUCKET,
    UPLOAD_TYPES,
    UPLOADS_BUCKET,
    SignedUpload,
    StorageError,
    StorageRefused,
)
from velro_graphql.storage.media import IMAGE_TYPES, VIDEO_TYPES

MB = 1024 * 1024
# Batch sizes for one sign / remove request, well under the Storage API's limits.
_SIGN_BATCH = 500
_REMOVE_BATCH = 1000
_REFUSED = frozenset({"401", "403"})


class SupabaseStorage:
    name = "supabase"

    def __init__(
        self,
        url: str,
        service_key: str,
        *,
        timeout: float = 30,
        max_image_bytes: int = 50 * MB,
        max_video_bytes: int = 500 * MB,
        max_upload_bytes: int = 20 * MB,
    ) -> None:
        self._max_image_bytes = max_image_bytes
        self._max_video_bytes = max_video_bytes
        self._max_upload_bytes = max_upload_bytes
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)), http2=True
        )
        self._client = AsyncStorageClient(
            f"{url.rstrip('/')}/storage/v1/",
            {"apikey": service_key, "Authorization": f"Bearer {service_key}"},
            http_client=self._http,
        )

    async def put(self, bucket: str, path: str, data: bytes, *, content_type: str) -> None:
        """Upload `data` to `bucket/path` with its real content type, replacing any old file."""
        options: FileOptions = {"content-type": content_type, "upsert": "true"}
        with _storage_errors(f"upload {bucket}/{path}"):
            await self._client.from_(bucket).upload(path, data, options)

    async def sign(self, bucket: str, paths: list[str], *, expires_in: int) -> dict[str, str]:
        """Return a signed URL for each path that exists (Storage answers null for the rest)."""
        urls: dict[str, str] = {}
        for batch in _batches(paths, _SIGN_BATCH):
            with _storage_errors(f"sign {len(batch)} paths in {bucket}"):
                items = await self._client.from_(bucket).create_signed_urls(batch, expires_in)
            urls.update({item["path"]: item["signedURL"] for item in items if item["signedURL"]})
        return urls

    async def sign_upload(
        self, bucket: str, path: str, *, content_type: str, max_bytes: int, expires_in: int
    ) -> SignedUpload:
        """Supabase's signed upload URL (it lives two hours, set by Supabase; the bucket's size
        limit and types bound what it takes, and it is refused once used)."""
        with _storage_errors(f"sign an upload to {bucket}/{path}"):
            signed = await self._client.from_(bucket).create_signed_upload_url(path)
        return SignedUpload(signed["signed_url"], {"Content-Type": content_type})

    async def read(self, bucket: str, path: str, *, max_bytes: int) -> bytes | None:
        """The object's bytes (the bucket's size limit bounds them), or None when absent."""
        try:
            with _storage_errors(f"read {bucket}/{path}"):
                data = await self._client.from_(bucket).download(path)
        except StorageError as exc:
            if _is_missing(exc.__cause__):
                return None
            raise
        return data[: max_bytes + 1]

    async def remove(self, bucket: str, paths: list[str]) -> None:
        for batch in _batches(paths, _REMOVE_BATCH):
            with _storage_errors(f"remove {len(batch)} paths from {bucket}"):
                await self._client.from_(bucket).remove(batch)

    async def prepare(self) -> None:
        await self.ensure_buckets()

    async def ensure_buckets(self) -> list[str]:
        """Create the private generations, thumbnails and uploads buckets when absent; return
        the new ones."""
        wanted = {
            GENERATIONS_BUCKET: _bucket_options(
                max(self._max_image_bytes, self._max_video_bytes), [*IMAGE_TYPES, *VIDEO_TYPES]
            ),
            THUMBNAILS_BUCKET: _bucket_options(self._max_image_bytes, ["image/webp"]),
            UPLOADS_BUCKET: _bucket_options(self._max_upload_bytes, list(UPLOAD_TYPES)),
        }
        with _storage_errors("list buckets"):
            existing = {bucket.id: bucket for bucket in await self._client.list_buckets()}
        for bucket_id, options in wanted.items():
            if bucket_id in existing and existing[bucket_id].public:
                await self._update_bucket(bucket_id, options)
        created = [bucket_id for bucket_id in wanted if bucket_id not in existing]
        for bucket_id in created:
            await self._create_bucket(bucket_id, wanted[bucket_id])
        return created

    async def _create_bucket(self, bucket_id: str, options: CreateOrUpdateBucketOptions) -> None:
        try:
            with _storage_errors(f"create bucket {bucket_id}"):
                await self._client.create_bucket(bucket_id, options=options)
        except StorageError as exc:
            if not _is_duplicate(exc.__cause__):  # another replica created it first
                raise

    async def _update_bucket(self, bucket_id: str, options: CreateOrUpdateBucketOptions) -> None:
        """Make a public bucket private again: outputs are only ever read through signed URLs."""
        with _storage_errors(f"make bucket {bucket_id} private"):
            await self._client.update_bucket(bucket_id, options)

    async def close(self) -> None:
        await self._http.aclose()


def _bucket_options(size_limit: int, mime_types: list[str]) -> CreateOrUpdateBucketOptions:
    return {"public": False, "file_size_limit": size_limit, "allowed_mime_types": mime_types}


def _batches(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _is_duplicate(exc: BaseException | None) -> bool:
    return isinstance(exc, StorageApiError) and str(exc.status) == "409"


def _is_missing(exc: BaseException | None) -> bool:
    return (
        isinstance(exc, StorageApiError)
        and str(exc.status) in ("400", "404")
        and (exc.code in ("not_found", "NoSuchKey") or "not found" in exc.message.lower())
    )


def _is_refusal(exc: StorageApiError) -> bool:
    """Whether Storage refused the key: its body's status (Storage answers a bad key with HTTP
    400 and statusCode 403) or the HTTP status (the API gateway answers 401 itself)."""
    response = getattr(exc.__cause__, "response", None)
    http_status = str(response.status_code) if isinstance(response, httpx.Response) else ""
    return str(exc.status) in _REFUSED or http_status in _REFUSED


@contextmanager
def _storage_errors(action: str) -> Iterator[None]:
    """Turn whatever storage3 or httpx raises into StorageError, keeping the status."""
    try:
        yield
    except StorageApiError as exc:
        if _is_refusal(exc):
            raise StorageRefused(
                f"Supabase refused the service key ({action}: {exc.status} {exc.message});"
                " check SUPABASE_SERVICE_ROLE_KEY"
            ) from exc
        raise StorageError(f"Storage could not {action}: {exc.status} {exc.message}") from exc
    except (StorageException, httpx.HTTPError, ValueError) as exc:
        raise StorageError(f"Storage could not {action}: {exc!r}") from exc
