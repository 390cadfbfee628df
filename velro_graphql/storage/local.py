"""Storage in a local directory, read back through HMAC-signed expiring URLs the app serves."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import re
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote, urlencode

from velro_graphql.storage.base import ObjectExists, ObjectTooLarge, SignedUpload, StorageError

_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")


class InvalidObjectPath(ValueError):
    """A bucket or object path that could escape the storage root."""


def signature_for(secret: bytes, bucket: str, path: str, expires: int) -> str:
    """Return the hex HMAC-SHA256 that authorises reading `bucket/path` until `expires`."""
    message = f"{bucket}/{path}/{expires}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def verify_signed(
    secret: bytes, bucket: str, path: str, expires: int | str, signature: str, now: float
) -> bool:
    """Whether `signature` is valid for `bucket/path` and `expires` is still in the future."""
    try:
        expires_at = int(expires)
    except (TypeError, ValueError):
        return False
    if expires_at <= now:
        return False
    expected = signature_for(secret, bucket, path, expires_at)
    return hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))


def upload_signature_for(
    secret: bytes, bucket: str, path: str, expires: int, max_bytes: int, content_type: str
) -> str:
    """Return the hex HMAC-SHA256 that authorises one PUT of `bucket/path`: its size cap and
    content type are signed too, so a client cannot raise or change them."""
    message = f"PUT\n{bucket}/{path}\n{expires}\n{max_bytes}\n{content_type}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def check_object_path(bucket: str, path: str) -> None:
    """Refuse bucket names and paths that are empty, absolute, or climb out with `..`."""
    if not _BUCKET_NAME.fullmatch(bucket):
        raise InvalidObjectPath(f"Invalid bucket name {bucket!r}.")
    if not path or "\x00" in path or "\\" in path or path.startswith("/"):
        raise InvalidObjectPath(f"Invalid object path {path!r}.")
    if any(part in ("", ".", "..") for part in path.split("/")):
        raise InvalidObjectPath(f"Invalid object path {path!r}.")


class LocalStorage:
    name = "local"

    def __init__(self, root: Path, *, secret: bytes, base_url: str) -> None:
        self.root = root
        self._secret = secret
        self._base_url = base_url.rstrip("/")

    def file_path(self, bucket: str, path: str) -> Path:
        """Return where `bucket/path` lives on disk, refusing paths that escape the root."""
        check_object_path(bucket, path)
        return self.root / bucket / path

    async def put(self, bucket: str, path: str, data: bytes, *, content_type: str) -> None:
        """Store `data` at `path` atomically: readers see the old file or the new one."""
        target = self.file_path(bucket, path)
        try:
            await asyncio.to_thread(_write_atomically, target, data)
        except OSError as exc:
            raise StorageError(f"Could not write {bucket}/{path}: {exc}") from exc

    async def sign(self, bucket: str, paths: list[str], *, expires_in: int) -> dict[str, str]:
        """Return a signed URL for each path that exists, valid for `expires_in` seconds."""
        files = {path: self.file_path(bucket, path) for path in paths}
        existing = await asyncio.to_thread(lambda: [p for p, f in files.items() if f.is_file()])
        expires = int(time.time()) + expires_in
        return {path: self.signed_url(bucket, path, expires=expires) for path in existing}

    def signed_url(self, bucket: str, path: str, *, expires: int) -> str:
        query = urlencode(
            {"expires": expires, "signature": signature_for(self._secret, bucket, path, expires)}
        )
        return f"{self._base_url}/files/{bucket}/{quote(path, safe='/')}?{query}"

    def verify(self, bucket: str, path: str, expires: int | str, signature: str) -> bool:
        """Whether a signed URL's parameters are valid now."""
        return verify_signed(self._secret, bucket, path, expires, signature, time.time())

    async def sign_upload(
        self, bucket: str, path: str, *, content_type: str, max_bytes: int, expires_in: int
    ) -> SignedUpload:
        """A URL of this app that takes one PUT of the object (see `receive`)."""
        self.file_path(bucket, path)
        expires = int(time.time()) + expires_in
        signature = upload_signature_for(
            self._secret, bucket, path, expires, max_bytes, content_type
        )
        query = urlencode({"expires": expires, "max": max_bytes, "signature": signature})
        url = f"{self._base_url}/files/{bucket}/{quote(path, safe='/')}?{query}"
        return SignedUpload(url, {"Content-Type": content_type})

    def verify_upload(
        self,
        bucket: str,
        path: str,
        *,
        expires: str,
        max_bytes: str,
        content_type: str,
        signature: str,
    ) -> int | None:
        """The size cap of a valid, unexpired signed upload URL; None for any other."""
        if not (expires.isdigit() and max_bytes.isdigit()) or int(expires) <= time.time():
            return None
        expected = upload_signature_for(
            self._secret, bucket, path, int(expires), int(max_bytes), content_type
        )
        valid = hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))
        return int(max_bytes) if valid else None

    async def receive(
        self, bucket: str, path: str, chunks: AsyncIterator[bytes], *, max_bytes: int
    ) -> int:
        """Stream a PUT body to `bucket/path`, cutting it off past `max_bytes`; the object is
        created once (ObjectExists after). Return the number of bytes stored."""
        target = self.file_path(bucket, path)
        fd, temp = await asyncio.to_thread(_temp_beside, target)
        try:
            with os.fdopen(fd, "wb") as out:
                size = await _copy_capped(chunks, out, max_bytes)
            await asyncio.to_thread(_link_once, Path(temp), target)
        finally:
            Path(temp).unlink(missing_ok=True)
        return size

    async def read(self, bucket: str, path: str, *, max_bytes: int) -> bytes | None:
        file = self.open_file(bucket, path)
        if file is None:
            return None
        return await asyncio.to_thread(_read_head, file, max_bytes + 1)

    def open_file(self, bucket: str, path: str) -> Path | None:
        """Return the stored file for `bucket/path`, or None when it is absent or invalid."""
        try:
            file = self.file_path(bucket, path)
        except InvalidObjectPath:
            return None
        return file if file.is_file() and _is_inside(file, self.root) else None

    async def remove(self, bucket: str, paths: list[str]) -> None:
        files = [self.file_path(bucket, path) for path in paths]
        try:
            await asyncio.to_thread(_unlink_all, files)
        except OSError as exc:
            raise StorageError(f"Could not remove files from {bucket}: {exc}") from exc

    async def prepare(self) -> None:
        """Make the root directory if needed; raise StorageError if it is not writable."""
        if not await asyncio.to_thread(_writable_dir, self.root):
            raise StorageError(f"Local storage cannot write under {self.root}")

    async def close(self) -> None:
        return None


def _write_atomically(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _temp_beside(target: Path) -> tuple[int, str]:
    target.parent.mkdir(parents=True, exist_ok=True)
    return tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")


async def _copy_capped(chunks: AsyncIterator[bytes], out: BinaryIO, max_bytes: int) -> int:
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > max_bytes:
            raise ObjectTooLarge(f"More than {max_bytes} bytes.")
        await asyncio.to_thread(out.write, chunk)
    return size


def _link_once(temp: Path, target: Path) -> None:
    """Give the finished file its name unless one is there already (never overwrite)."""
    try:
        os.link(temp, target)
    except FileExistsError:
        raise ObjectExists(str(target.name)) from None


def _read_head(file: Path, limit: int) -> bytes:
    with file.open("rb") as source:
        return source.read(limit)


def _unlink_all(files: list[Path]) -> None:
    for file in files:
        file.unlink(missing_ok=True)


def _writable_dir(root: Path) -> bool:
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(root, os.W_OK | os.X_OK)


def _is_inside(file: Path, root: Path) -> bool:
    """Whether `file`, with symlinks resolved, is still under `root`."""
    return file.resolve().is_relative_to(root.resolve())
