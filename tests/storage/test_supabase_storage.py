from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.fakes.supabase_storage import FakeStorage, running_fake_storage
from velro_graphql.storage.base import (
    GENERATIONS_BUCKET,
    THUMBNAILS_BUCKET,
    UPLOADS_BUCKET,
    StorageError,
    StorageRefused,
)
from velro_graphql.storage.supabase import MB, SupabaseStorage

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture(scope="module")
def server() -> Iterator[FakeStorage]:
    with running_fake_storage() as fake:
        yield fake


@pytest.fixture
def fake(server: FakeStorage) -> FakeStorage:
    server.reset()
    server.add_bucket(GENERATIONS_BUCKET, allowed_mime_types=["image/png", "video/mp4"])
    return server


@pytest.fixture
async def storage(fake: FakeStorage) -> AsyncIterator[SupabaseStorage]:
    storage = SupabaseStorage(fake.url, fake.service_key, timeout=5)
    yield storage
    await storage.close()


async def test_put_sends_the_real_content_type_with_the_service_key(
    fake: FakeStorage, storage: SupabaseStorage
) -> None:
    await storage.put(GENERATIONS_BUCKET, "u1/no-project/g1/0.png", PNG, content_type="image/png")

    [upload] = fake.uploads
    assert (upload.path, upload.content_type, upload.upsert) == (
        "u1/no-project/g1/0.png",
        "image/png",
        "true",
    )
    assert fake.objects[GENERATIONS_BUCKET, "u1/no-project/g1/0.png"].data == PNG


async def test_put_overwrites_an_existing_object(
    fake: FakeStorage, storage: SupabaseStorage
) -> None:
    await storage.put(GENERATIONS_BUCKET, "u1/a.mp4", b"old", content_type="video/mp4")
    await storage.put(GENERATIONS_BUCKET, "u1/a.mp4", b"new", content_type="video/mp4")

    assert fake.objects[GENERATIONS_BUCKET, "u1/a.mp4"].data == b"new"


async def test_a_refused_content_type_is_a_storage_error(storage: SupabaseStorage) -> None:
    with pytest.raises(StorageError, match="415"):
        await storage.put(GENERATIONS_BUCKET, "u1/a.txt", b"hi", content_type="text/plain")


async def test_sign_leaves_out_missing_objects_and_the_urls_work(
    fake: FakeStorage, storage: SupabaseStorage
) -> None:
    await storage.put(GENERATIONS_BUCKET, "u1/g/0.png", PNG, content_type="image/png")

    urls = await storage.sign(GENERATIONS_BUCKET, ["u1/g/0.png", "u1/g/1.png"], expires_in=60)

    assert list(urls) == ["u1/g/0.png"]
    assert urls["u1/g/0.png"].startswith(f"{fake.url}/storage/v1/object/sign/generations/u1/g/")
    async with httpx.AsyncClient() as client:
        response = await client.get(urls["u1/g/0.png"])
    assert (response.status_code, response.content) == (200, PNG)
    assert response.headers["content-type"] == "image/png"


async def test_sign_batches_large_requests_and_skips_empty_ones(
    fake: FakeStorage, storage: SupabaseStorage
) -> None:
    assert await storage.sign(GENERATIONS_BUCKET, [], expires_in=60) == {}
    paths = [f"u1/g/{n}.png" for n in range(501)]

    assert await storage.sign(GENERATIONS_BUCKET, paths, expires_in=60) == {}
    assert fake.requests == [("POST", "/storage/v1/object/sign/generations")] * 2


async def test_remove_deletes_objects(fake: FakeStorage, storage: SupabaseStorage) -> None:
    for name in ("0.png", "1.png"):
        await storage.put(GENERATIONS_BUCKET, f"u1/g/{name}", PNG, content_type="image/png")

    await storage.remove(GENERATIONS_BUCKET, ["u1/g/0.png", "u1/g/missing.png"])

    assert list(fake.objects) == [(GENERATIONS_BUCKET, "u1/g/1.png")]


@pytest.mark.parametrize(
    ("status", "body"),
    [(503, None), (500, b"<html>Bad gateway</html>"), (404, None), (429, b"")],
)
async def test_http_failures_become_storage_errors(
    fake: FakeStorage, storage: SupabaseStorage, status: int, body: bytes | None
) -> None:
    fake.fail_next(3, status=status, body=body)

    with pytest.raises(StorageError, match=str(status)):
        await storage.put(GENERATIONS_BUCKET, "u1/a.png", PNG, content_type="image/png")
    with pytest.raises(StorageError, match=str(status)):
        await storage.sign(GENERATIONS_BUCKET, ["u1/a.png"], expires_in=60)
    with pytest.raises(StorageError, match=str(status)):
        await storage.remove(GENERATIONS_BUCKET, ["u1/a.png"])


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, b'{"statusCode": "403", "error": "Unauthorized", "message": "invalid signature"}'),
        (403, b'{"statusCode": "403", "error": "Unauthorized", "message": "no"}'),
        (401, b'{"message": "Invalid API key"}'),  # the API gateway's own answer
    ],
)
async def test_a_refused_key_is_a_misconfiguration(
    fake: FakeStorage, storage: SupabaseStorage, status: int, body: bytes
) -> None:
    fake.fail_next(status=status, body=body)

    with pytest.raises(StorageRefused, match="Supabase refused the service key"):
        await storage.prepare()


async def test_a_wrong_key_is_refused(fake: FakeStorage) -> None:
    storage = SupabaseStorage(fake.url, "some-other-key")
    try:
        with pytest.raises(StorageRefused, match=r"403.*SUPABASE_SERVICE_ROLE_KEY"):
            await storage.put(GENERATIONS_BUCKET, "u1/a.png", PNG, content_type="image/png")
    finally:
        await storage.close()


async def test_an_unreachable_server_is_a_storage_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    storage = SupabaseStorage(f"http://127.0.0.1:{port}", "key", timeout=2)
    try:
        with pytest.raises(StorageError, match="ConnectError"):
            await storage.put(GENERATIONS_BUCKET, "u1/a.png", PNG, content_type="image/png")
        with pytest.raises(StorageError, match="ConnectError"):
            await storage.prepare()
    finally:
        await storage.close()


async def test_an_outage_is_not_a_refusal(fake: FakeStorage, storage: SupabaseStorage) -> None:
    fake.fail_next(status=503)
    with pytest.raises(StorageError, match="503") as failed:
        await storage.prepare()
    assert not isinstance(failed.value, StorageRefused)
    await storage.prepare()


async def test_ensure_buckets_creates_the_private_buckets_once(fake: FakeStorage) -> None:
    del fake.buckets[GENERATIONS_BUCKET]
    storage = SupabaseStorage(
        fake.url, fake.service_key, max_image_bytes=5 * MB, max_video_bytes=50 * MB
    )

    created = await storage.ensure_buckets()

    assert created == [GENERATIONS_BUCKET, THUMBNAILS_BUCKET, UPLOADS_BUCKET]
    generations, thumbnails = fake.buckets[GENERATIONS_BUCKET], fake.buckets[THUMBNAILS_BUCKET]
    uploads = fake.buckets[UPLOADS_BUCKET]
    assert (uploads["public"], uploads["file_size_limit"]) == (False, 20 * MB)
    assert uploads["allowed_mime_types"] == ["image/jpeg", "image/png", "image/webp"]
    assert (generations["public"], generations["file_size_limit"]) == (False, 50 * MB)
    assert "video/quicktime" in generations["allowed_mime_types"]
    assert (thumbnails["public"], thumbnails["file_size_limit"]) == (False, 5 * MB)
    assert thumbnails["allowed_mime_types"] == ["image/webp"]
    assert await storage.ensure_buckets() == []
    await storage.close()


async def test_ensure_buckets_makes_a_public_bucket_private(
    fake: FakeStorage, storage: SupabaseStorage
) -> None:
    fake.add_bucket(GENERATIONS_BUCKET, public=True)

    await storage.ensure_buckets()

    assert fake.buckets[GENERATIONS_BUCKET]["public"] is False


async def test_ensure_buckets_tolerates_a_concurrent_creation(
    fake: FakeStorage, storage: SupabaseStorage
) -> None:
    duplicate = b'{"statusCode": "409", "error": "Duplicate", "message": "exists"}'
    fake.fail_next(status=400, body=duplicate, after=1)

    await storage.ensure_buckets()  # the thumbnails bucket "appeared" meanwhile

    fake.fail_next(status=400, body=duplicate.replace(b"409", b"403"), after=1)
    with pytest.raises(StorageError, match="403"):
        await storage.ensure_buckets()
