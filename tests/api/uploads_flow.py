"""Helpers of the upload tests: pictures, and the createUpload -> PUT -> completeUpload flow."""

from __future__ import annotations

import io
from typing import Any

import httpx
from PIL import Image

FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP"}
LEFT, RIGHT = (220, 30, 30), (30, 30, 220)

CREATE = """mutation($input: CreateUploadInput!) { createUpload(input: $input) {
  upload { id status uploadUrl uploadHeaders expiresAt filename contentType byteSize }
  userErrors { field message code } } }"""
COMPLETE = """mutation($id: ID!) { completeUpload(input: {id: $id}) {
  upload { id status width height byteSize error url(expiresIn: 120) }
  userErrors { field message code } } }"""
DELETE = """mutation($id: ID!) { deleteUpload(input: {id: $id}) {
  deletedUploadId userErrors { field code } } }"""


def picture(content_type: str = "image/png", size: tuple[int, int] = (64, 48)) -> bytes:
    """A picture whose left half is red and right half blue."""
    image = Image.new("RGB", size, RIGHT)
    image.paste(LEFT, (0, 0, size[0] // 2, size[1]))
    out = io.BytesIO()
    image.save(out, format=FORMATS[content_type], quality=95)
    return out.getvalue()


async def graphql(http: httpx.AsyncClient, query: str, **variables: Any) -> Any:
    reply = await http.post("/graphql", json={"query": query, "variables": variables})
    body = reply.json()
    assert "errors" not in body, body
    return body["data"]


async def create(
    http: httpx.AsyncClient, content_type: str, byte_size: int, purpose: str = "REFERENCE_IMAGE"
) -> Any:
    given = {"filename": "me.img", "contentType": content_type, "byteSize": byte_size,
             "purpose": purpose}  # fmt: skip
    return (await graphql(http, CREATE, input=given))["createUpload"]


async def put(http: httpx.AsyncClient, upload: Any, data: bytes, **headers: str) -> httpx.Response:
    """PUT the bytes where uploadUrl says: this app (in-process) or the Storage fake."""
    url = httpx.URL(upload["uploadUrl"])
    sent = {**upload["uploadHeaders"], **headers}
    if url.path.startswith("/files/"):
        return await http.put(url.raw_path.decode(), content=data, headers=sent)
    async with httpx.AsyncClient() as outside:
        return await outside.put(str(url), content=data, headers=sent)


async def uploaded(
    http: httpx.AsyncClient, content_type: str = "image/png", purpose: str = "REFERENCE_IMAGE"
) -> Any:
    """A READY upload of `picture(content_type)`."""
    data = picture(content_type)
    upload = (await create(http, content_type, len(data), purpose))["upload"]
    assert (await put(http, upload, data)).status_code == 200
    completed = (await graphql(http, COMPLETE, id=upload["id"]))["completeUpload"]
    assert completed["upload"]["status"] == "READY", completed
    return completed["upload"]
