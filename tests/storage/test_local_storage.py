from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from velro_graphql.storage.base import StorageError
from velro_graphql.storage.local import (
    InvalidObjectPath,
    LocalStorage,
    signature_for,
    verify_signed,
)

SECRET = b"local-storage-test-secret"
BASE_URL = "http://testserver/"


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "files", secret=SECRET, base_url=BASE_URL)


def parse_signed(url: str) -> tuple[str, str, str, str]:
    parts = urlsplit(url)
    assert parts.path.startswith("/files/")
    bucket, path = parts.path.removeprefix("/files/").split("/", 1)
    query = parse_qs(parts.query)
    return bucket, path, query["expires"][0], query["signature"][0]


async def test_put_stores_the_file_under_its_bucket(storage: LocalStorage, tmp_path: Path) -> None:
    await storage.put("generations", "u1/no-project/g1/0.png", b"png", content_type="image/png")
    await storage.put("generations", "u1/no-project/g1/0.png", b"new", content_type="image/png")

    stored = tmp_path / "files" / "generations" / "u1" / "no-project" / "g1" / "0.png"
    assert stored.read_bytes() == b"new"
    assert [p.name for p in stored.parent.iterdir()] == ["0.png"]  # no temporary files left


async def test_sign_gives_verifiable_urls_for_existing_files_only(storage: LocalStorage) -> None:
    await storage.put("generations", "u1/g/0.mp4", b"video", content_type="video/mp4")

    urls = await storage.sign("generations", ["u1/g/0.mp4", "u1/g/1.mp4"], expires_in=60)

    assert list(urls) == ["u1/g/0.mp4"]
    bucket, path, expires, signature = parse_signed(urls["u1/g/0.mp4"])
    assert urls["u1/g/0.mp4"].startswith("http://testserver/files/generations/u1/g/0.mp4?")
    assert (bucket, path) == ("generations", "u1/g/0.mp4")
    assert 55 <= int(expires) - time.time() <= 61
    assert storage.verify(bucket, path, expires, signature)
    served = storage.open_file(bucket, path)
    assert served is not None and served.read_bytes() == b"video"


def test_tampered_or_expired_signatures_are_refused() -> None:
    now = 1_700_000_000.0
    expires = int(now) + 60
    good = signature_for(SECRET, "generations", "u1/a.png", expires)

    assert verify_signed(SECRET, "generations", "u1/a.png", expires, good, now)
    assert verify_signed(SECRET, "generations", "u1/a.png", str(expires), good, now)
    assert not verify_signed(SECRET, "generations", "u1/b.png", expires, good, now)
    assert not verify_signed(SECRET, "thumbnails", "u1/a.png", expires, good, now)
    assert not verify_signed(SECRET, "generations", "u1/a.png", expires + 1, good, now)
    assert not verify_signed(b"other", "generations", "u1/a.png", expires, good, now)
    assert not verify_signed(SECRET, "generations", "u1/a.png", expires, good[:-1], now)
    assert not verify_signed(SECRET, "generations", "u1/a.png", expires, "é" * 64, now)
    assert not verify_signed(SECRET, "generations", "u1/a.png", "soon", good, now)
    assert not verify_signed(SECRET, "generations", "u1/a.png", expires, good, now + 61)


@pytest.mark.parametrize(
    ("bucket", "path"),
    [
        ("generations", "../secret"),
        ("generations", "u1/../../secret"),
        ("generations", "/etc/passwd"),
        ("generations", "u1/a\x00.png"),
        ("generations", "u1\\..\\a.png"),
        ("generations", "u1//a.png"),
        ("generations", ""),
        ("..", "a.png"),
        ("gen/erations", "a.png"),
    ],
)
async def test_paths_that_could_escape_the_root_are_refused(
    storage: LocalStorage, bucket: str, path: str
) -> None:
    with pytest.raises(InvalidObjectPath):
        await storage.put(bucket, path, b"x", content_type="image/png")
    with pytest.raises(InvalidObjectPath):
        await storage.sign(bucket, [path], expires_in=60)
    assert storage.open_file(bucket, path) is None


async def test_open_file_refuses_symlinks_out_of_the_root(
    storage: LocalStorage, tmp_path: Path
) -> None:
    (tmp_path / "outside.txt").write_text("secret")
    await storage.put("generations", "u1/a.png", b"png", content_type="image/png")
    (storage.root / "generations" / "u1" / "link.png").symlink_to(tmp_path / "outside.txt")

    assert storage.open_file("generations", "u1/link.png") is None
    assert storage.open_file("generations", "u1/missing.png") is None
    assert storage.open_file("generations", "u1") is None


async def test_remove_deletes_files_and_ignores_missing_ones(storage: LocalStorage) -> None:
    await storage.put("generations", "u1/a.png", b"png", content_type="image/png")

    await storage.remove("generations", ["u1/a.png", "u1/missing.png"])

    assert storage.open_file("generations", "u1/a.png") is None


async def test_write_failures_are_storage_errors(storage: LocalStorage) -> None:
    await storage.put("generations", "u1/a.png", b"png", content_type="image/png")

    with pytest.raises(StorageError):
        await storage.put("generations", "u1/a.png/b.png", b"x", content_type="image/png")


async def test_prepare_needs_a_writable_root(storage: LocalStorage, tmp_path: Path) -> None:
    await storage.prepare()
    blocked = LocalStorage(tmp_path / "file" / "root", secret=SECRET, base_url=BASE_URL)
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(StorageError, match="cannot write under"):
        await blocked.prepare()
    await storage.close()
