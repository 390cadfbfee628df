"""Generations from an uploaded image, avatars, and the housekeeping of stale uploads."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from tests.api.uploads_flow import DELETE, create, graphql, uploaded
from tests.conftest import instant
from tests.factories import make_token
from velro_graphql.config import Settings
from velro_graphql.services import uploads
from velro_graphql.services.generations import run
from velro_graphql.services.generations.start import IMAGE_URL_MARGIN_SECONDS

START = """mutation($input: StartGenerationInput!) { startGeneration(input: $input) {
  generation { id status imageUrl inputImage { id status } } creditsBalance
  userErrors { field code } } }"""
RETRY = """mutation($id: ID!) { retryGeneration(input: {id: $id}) {
  generation { id inputImage { id } } userErrors { field code } } }"""
PROFILE = """mutation($input: UpdateProfileInput!) { updateProfile(input: $input) {
  user { displayName avatarUrl(expiresIn: 300) } userErrors { field code } } }"""
BALANCE = "{ me { creditsBalance } }"
KONTEXT = "fal-ai/flux-pro/kontext/max"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return instant(settings)


@pytest.fixture
async def http(http: Any) -> Any:
    http.headers["Authorization"] = f"Bearer {make_token('alice@example.com')}"
    return http


def start_input(model_id: str, upload_id: str | None) -> dict[str, Any]:
    return {"modelId": model_id, "prompt": "make it night", "imageUploadId": upload_id}


async def run_jobs(http: Any) -> None:
    rt = http.app.state.services.runtime
    for _ in range(5):
        for job in await run.claim(rt, owner="test", limit=10):
            await run.advance(rt, job, owner="test")


async def test_kontext_starts_from_an_upload_with_a_url_outliving_the_deadline(http: Any) -> None:
    upload = await uploaded(http)
    started = await graphql(http, START, input=start_input(KONTEXT, upload["id"]))
    payload = started["startGeneration"]
    assert payload["userErrors"] == []
    generation = payload["generation"]
    assert generation["inputImage"] == {"id": upload["id"], "status": "READY"}
    expires = int(parse_qs(urlparse(generation["imageUrl"]).query)["expires"][0])
    deadline = 600  # the catalog's for Kontext [max]
    assert expires >= datetime.now().timestamp() + deadline + IMAGE_URL_MARGIN_SECONDS - 60

    await run_jobs(http)
    retried = (await graphql(http, RETRY, id=generation["id"]))["retryGeneration"]
    assert retried["userErrors"] == []
    assert retried["generation"]["inputImage"] == {"id": upload["id"]}

    used = (await graphql(http, DELETE, id=upload["id"]))["deleteUpload"]
    assert used["userErrors"] == [{"field": "id", "code": "BAD_USER_INPUT"}]


@pytest.mark.parametrize(
    ("model_id", "with_image"),
    [(KONTEXT, False), ("fal-ai/imagen4/preview/ultra", True)],
)
async def test_an_image_where_the_model_wants_none_or_none_where_it_needs_one(
    http: Any, model_id: str, with_image: bool
) -> None:
    upload_id = (await uploaded(http))["id"] if with_image else None
    before = (await graphql(http, BALANCE))["me"]["creditsBalance"]
    started = await graphql(http, START, input=start_input(model_id, upload_id))
    assert started["startGeneration"]["userErrors"] == [
        {"field": "imageUploadId", "code": "BAD_USER_INPUT"}
    ]
    assert (await graphql(http, BALANCE))["me"]["creditsBalance"] == before


async def test_a_pending_or_rejected_upload_cannot_start_a_generation(http: Any) -> None:
    pending = (await create(http, "image/png", 100))["upload"]
    started = await graphql(http, START, input=start_input(KONTEXT, pending["id"]))
    assert started["startGeneration"]["userErrors"] == [
        {"field": "imageUploadId", "code": "BAD_USER_INPUT"}
    ]


async def test_update_profile_sets_a_signed_avatar(http: Any) -> None:
    reference = await uploaded(http)
    avatar = await uploaded(http, purpose="AVATAR")
    refused = await graphql(http, PROFILE, input={"avatarUploadId": reference["id"]})
    assert refused["updateProfile"]["userErrors"] == [
        {"field": "avatarUploadId", "code": "BAD_USER_INPUT"}
    ]
    blank = await graphql(http, PROFILE, input={"displayName": "  "})
    assert blank["updateProfile"]["userErrors"] == [
        {"field": "displayName", "code": "BAD_USER_INPUT"}
    ]
    given = {"displayName": "Alice", "avatarUploadId": avatar["id"]}
    user = (await graphql(http, PROFILE, input=given))["updateProfile"]["user"]
    assert user["displayName"] == "Alice"
    assert "signature=" in user["avatarUrl"]
    me = await graphql(http, "{ me { avatarUrl } }")
    image = await http.get(urlparse(me["me"]["avatarUrl"])._replace(scheme="", netloc="").geturl())
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG")


async def test_housekeeping_deletes_uploads_pending_for_a_day(http: Any) -> None:
    stale = (await create(http, "image/png", 100))["upload"]
    fresh = (await create(http, "image/png", 100))["upload"]
    ready = await uploaded(http)
    rt = http.app.state.services.runtime
    async with rt.pool.acquire() as conn:
        await conn.execute(
            "UPDATE uploads SET created_at = now() - interval '25 hours' WHERE status <> 'READY'"
            " AND id = (SELECT id FROM uploads WHERE status = 'PENDING' ORDER BY created_at"
            " LIMIT 1)"
        )
    assert await uploads.remove_stale(rt) == 1
    listed = await graphql(http, "{ uploads { nodes { id } } }")
    assert {n["id"] for n in listed["uploads"]["nodes"]} == {fresh["id"], ready["id"]}
    assert stale["id"] not in {n["id"] for n in listed["uploads"]["nodes"]}
