"""Projects through the schema: validation, ownership, pagination."""

from __future__ import annotations

from typing import Any

from velro_graphql.api.types.relay import to_global_id

CREATE = """
mutation($input: CreateProjectInput!) {
  createProject(input: $input) {
    project { id name description visibility generationCount }
    userErrors { field message code }
  }
}"""
UPDATE = """
mutation($input: UpdateProjectInput!) {
  updateProject(input: $input) { project { id name } userErrors { field message code } }
}"""
DELETE = """
mutation($id: ID!) {
  deleteProject(input: {id: $id}) { deletedProjectId userErrors { field message code } }
}"""
PAGE = """
query($first: Int, $after: String) {
  projects(first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id name } }
  }
}"""


async def create(client: Any, caller: Any, **input_: Any) -> Any:
    result = await client.execute(CREATE, {"input": input_}, caller=caller)
    assert result.errors is None, result.errors
    return result.data["createProject"]


async def test_create_and_read_back(client: Any) -> None:
    alice = await client.user("alice@example.com")
    payload = await create(client, alice, name="  Moodboard ", description="d", visibility="PUBLIC")
    assert payload["userErrors"] == []
    assert payload["project"]["name"] == "Moodboard"
    read = await client.execute(
        "query($id: ID!) { project(id: $id) { name visibility } }",
        {"id": payload["project"]["id"]},
        caller=alice,
    )
    assert read.data["project"] == {"name": "Moodboard", "visibility": "PUBLIC"}


async def test_validation_names_the_field_and_creates_nothing(client: Any) -> None:
    alice = await client.user("alice@example.com")
    cases = [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "ok", "description": "d" * 501}, "description"),
    ]
    for input_, field in cases:
        payload = await create(client, alice, **input_)
        assert payload["project"] is None
        assert payload["userErrors"][0]["field"] == field
        assert payload["userErrors"][0]["code"] == "BAD_USER_INPUT"
    result = await client.execute(PAGE, caller=alice)
    assert result.data["projects"]["totalCount"] == 0


async def test_boundaries_are_accepted(client: Any) -> None:
    alice = await client.user("alice@example.com")
    payload = await create(client, alice, name="x" * 100, description="d" * 500)
    assert payload["userErrors"] == []


async def test_other_users_project_is_not_found_everywhere(client: Any) -> None:
    alice = await client.user("alice@example.com")
    bob = await client.user("bob@example.com")
    project_id = (await create(client, alice, name="Alice's"))["project"]["id"]

    for query in (
        "query($id: ID!) { project(id: $id) { name } }",
        "query($id: ID!) { node(id: $id) { id } }",
    ):
        result = await client.execute(query, {"id": project_id}, caller=bob)
        assert result.errors[0].extensions["code"] == "NOT_FOUND"
        assert "Alice" not in str(result.data)

    listing = await client.execute(PAGE, caller=bob)
    assert listing.data["projects"]["totalCount"] == 0

    update = await client.execute(UPDATE, {"input": {"id": project_id, "name": "x"}}, caller=bob)
    assert update.data["updateProject"]["userErrors"][0]["code"] == "NOT_FOUND"
    delete = await client.execute(DELETE, {"id": project_id}, caller=bob)
    assert delete.data["deleteProject"]["userErrors"][0]["code"] == "NOT_FOUND"

    still = await client.execute(
        "query($id: ID!) { project(id: $id) { name } }", {"id": project_id}, caller=alice
    )
    assert still.data["project"]["name"] == "Alice's"


async def test_update_and_delete_own_project(client: Any) -> None:
    alice = await client.user("alice@example.com")
    project_id = (await create(client, alice, name="Old"))["project"]["id"]
    update = await client.execute(
        UPDATE, {"input": {"id": project_id, "name": "New"}}, caller=alice
    )
    assert update.data["updateProject"]["project"]["name"] == "New"
    delete = await client.execute(DELETE, {"id": project_id}, caller=alice)
    assert delete.data["deleteProject"] == {"deletedProjectId": project_id, "userErrors": []}
    listing = await client.execute(PAGE, caller=alice)
    assert listing.data["projects"]["totalCount"] == 0


async def test_pagination_walks_every_item_once_even_with_inserts(client: Any) -> None:
    alice = await client.user("alice@example.com")
    for n in range(7):
        await create(client, alice, name=f"p{n}")
    seen: list[str] = []
    after = None
    while True:
        result = await client.execute(PAGE, {"first": 3, "after": after}, caller=alice)
        page = result.data["projects"]
        seen += [edge["node"]["name"] for edge in page["edges"]]
        if len(seen) == 3:
            await create(client, alice, name="inserted-during-walk")
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [f"p{n}" for n in reversed(range(7))]


async def test_page_size_bounds_and_bad_cursor(client: Any) -> None:
    alice = await client.user("alice@example.com")
    too_big = await client.execute(PAGE, {"first": 101}, caller=alice)
    assert too_big.errors[0].extensions == {"code": "BAD_USER_INPUT", "field": "first"}
    negative = await client.execute(PAGE, {"first": -1}, caller=alice)
    assert negative.errors[0].extensions["code"] == "BAD_USER_INPUT"
    for cursor in ("not-a-cursor", "", "%%%", "dDpub3BlfG5vcGU"):
        bad = await client.execute(PAGE, {"after": cursor}, caller=alice)
        assert bad.errors[0].extensions["code"] == "BAD_USER_INPUT", cursor


async def test_malformed_and_foreign_type_ids_are_bad_input(client: Any) -> None:
    alice = await client.user("alice@example.com")
    for id_ in ("nope", to_global_id("Generation", "00000000-0000-0000-0000-000000000000")):
        result = await client.execute(
            "query($id: ID!) { project(id: $id) { name } }", {"id": id_}, caller=alice
        )
        assert result.errors[0].extensions["code"] == "BAD_USER_INPUT"


async def test_unauthenticated_reads_are_refused(client: Any) -> None:
    result = await client.execute("{ me { id } projects { totalCount } }")
    codes = {e.extensions["code"] for e in result.errors}
    assert codes == {"UNAUTHENTICATED"}
