"""Uploads end to end through the app, on local storage and on Supabase Storage (the real
storage3 client against the Storage fake): staged PUT, completion checks, ownership, limits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from tests.api.uploads_flow import (
    COMPLETE,
    DELETE,
    create,
    graphql,
    picture,
    put,
    uploaded,
)
from tests.conftest import app_client
from tests.factories import make_token
from tests.fakes.supabase_storage import FakeStorage, running_fake_storage
from velro_graphql.config import Settings
from velro_graphql.storage.base import UPLOADS_BUCKET

MAX_BYTES = 64 * 1024


@pytest.fixture(scope="module")
def storage_server() -> Iterator[FakeStorage]:
    with running_fake_storage() as fake:
        yield fake


@pytest.fixture(params=["local", "supabase"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(settings: Settings, backend: str, storage_server: FakeStorage) -> Settings:
    update: dict[str, Any] = {"max_upload_bytes": MAX_BYTES}
    if backend == "supabase":
        storage_server.reset()
        update |= {"supabase_url": storage_server.url,
                   "supabase_service_role_key": storage_server.service_key}  # fmt: skip
    return settings.model_copy(update=update)


@pytest.fixture
async def http(settings: Settings, storage_server: FakeStorage) -> AsyncIterator[Any]:
    async with app_client(settings) as client:
        if settings.supabase_url:  # the buckets are made in the background at start
            async with asyncio.timeout(10):
                while UPLOADS_BUCKET not in storage_server.buckets:
                    await asyncio.sleep(0.02)
        client.headers["Authorization"] = f"Bearer {token(settings, 'alice@example.com')}"
        yield client


def token(settings: Settings, email: str) -> str:
    return make_token(email, **({"iss": settings.jwt_issuer} if settings.jwt_issuer else {}))


def stored_objects(http: Any, settings: Settings, fake: FakeStorage) -> list[str]:
    if settings.supabase_url:
        return [path for bucket, path in fake.objects if bucket == UPLOADS_BUCKET]
    root = settings.velro_home / "files" / UPLOADS_BUCKET
    return [p.name for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.mark.parametrize("content_type", ["image/png", "image/jpeg", "image/webp"])
async def test_the_whole_flow_makes_a_ready_upload(http: Any, content_type: str) -> None:
    data = picture(content_type)
    created = await create(http, content_type, len(data))
    assert created["userErrors"] == []
    upload = created["upload"]
    assert upload["status"] == "PENDING" and upload["byteSize"] == len(data)
    assert upload["uploadHeaders"] == {"Content-Type": content_type}

    assert (await put(http, upload, data)).status_code == 200
    done = (await graphql(http, COMPLETE, id=upload["id"]))["completeUpload"]
    assert done["userErrors"] == []
    assert done["upload"]["status"] == "READY"
    assert (done["upload"]["width"], done["upload"]["height"]) == (64, 48)
    read = await _get(http, done["upload"]["url"])
    assert read.content == data

    listed = await graphql(http, "{ uploads(first: 5) { totalCount nodes { id status } } }")
    assert listed["uploads"] == {
        "totalCount": 1,
        "nodes": [{"id": upload["id"], "status": "READY"}],
    }
    node_query = "query($id: ID!) { node(id: $id) { ... on Upload { contentType } } }"
    node = await graphql(http, node_query, id=upload["id"])
    assert node["node"] == {"contentType": content_type}


async def test_a_text_file_declared_as_png_is_rejected_and_deleted(
    http: Any, settings: Settings, storage_server: FakeStorage
) -> None:
    text = b"just some text, not a picture at all\n" * 3
    upload = (await create(http, "image/png", len(text)))["upload"]
    assert (await put(http, upload, text)).status_code == 200
    assert len(stored_objects(http, settings, storage_server)) == 1

    done = (await graphql(http, COMPLETE, id=upload["id"]))["completeUpload"]
    assert done["upload"]["status"] == "REJECTED" and done["upload"]["url"] is None
    assert [e["code"] for e in done["userErrors"]] == ["BAD_USER_INPUT"]
    assert stored_objects(http, settings, storage_server) == []


async def test_an_oversize_put_is_cut_off(
    http: Any, settings: Settings, storage_server: FakeStorage
) -> None:
    upload = (await create(http, "image/png", 1000))["upload"]
    reply = await put(http, upload, b"\x89PNG\r\n\x1a\n" + b"\x00" * (MAX_BYTES + 1))
    assert reply.status_code in (400, 413)  # Supabase says 413 in a 400's body
    assert stored_objects(http, settings, storage_server) == []
    assert (await create(http, "image/png", MAX_BYTES + 1))["userErrors"][0]["field"] == "byteSize"


async def test_a_tampered_or_reused_upload_url_is_refused(http: Any) -> None:
    data = picture()
    upload = (await create(http, "image/png", len(data)))["upload"]
    url = httpx.URL(upload["uploadUrl"])
    for name, value in url.params.items():
        tampered = url.copy_set_param(name, value[:-2] + ("00" if value[-2:] != "00" else "11"))
        assert (await put(http, {**upload, "uploadUrl": str(tampered)}, data)).status_code in (
            400, 403,
        )  # fmt: skip
    assert (await put(http, upload, data)).status_code == 200
    assert (await put(http, upload, data)).status_code in (400, 409)


async def test_an_expired_local_upload_url_is_refused(http: Any, backend: str) -> None:
    if backend != "local":
        pytest.skip("Supabase's signed upload URLs live two hours, set by Supabase")
    upload = (await create(http, "image/png", 100))["upload"]
    storage = http.app.state.services.runtime.storage
    path = httpx.URL(upload["uploadUrl"]).path.removeprefix(f"/files/{UPLOADS_BUCKET}/")
    expired = await storage.sign_upload(
        UPLOADS_BUCKET, path, content_type="image/png", max_bytes=MAX_BYTES, expires_in=-1
    )
    assert (await put(http, {**upload, "uploadUrl": expired.url}, picture())).status_code == 403


async def test_another_users_upload_is_not_found_everywhere(http: Any, settings: Settings) -> None:
    upload = await uploaded(http)
    http.headers["Authorization"] = f"Bearer {token(settings, 'mallory@example.com')}"
    complete = await http.post(
        "/graphql", json={"query": COMPLETE, "variables": {"id": upload["id"]}}
    )
    assert complete.json()["data"]["completeUpload"]["userErrors"][0]["code"] == "NOT_FOUND"
    delete = (await graphql(http, DELETE, id=upload["id"]))["deleteUpload"]
    assert delete["userErrors"][0]["code"] == "NOT_FOUND"
    start = await graphql(http, START, input=_kontext(upload["id"]))
    assert start["startGeneration"]["userErrors"] == [
        {"field": "imageUploadId", "code": "NOT_FOUND"}
    ]
    node = await http.post("/graphql", json={"query": NODE, "variables": {"id": upload["id"]}})
    assert node.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert (await graphql(http, "{ uploads { totalCount } }"))["uploads"]["totalCount"] == 0


START = """mutation($input: StartGenerationInput!) { startGeneration(input: $input) {
  generation { id imageUrl inputImage { id } } creditsBalance userErrors { field code } } }"""
NODE = "query($id: ID!) { node(id: $id) { id } }"


def _kontext(upload_id: str | None) -> dict[str, Any]:
    return {"modelId": "fal-ai/flux-pro/kontext/max", "prompt": "make it night",
            "imageUploadId": upload_id}  # fmt: skip


async def _get(http: Any, url: str) -> httpx.Response:
    if httpx.URL(url).path.startswith("/files/"):
        return await http.get(httpx.URL(url).raw_path.decode())
    async with httpx.AsyncClient() as outside:
        return await outside.get(url)
