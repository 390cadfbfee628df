"""Every refusal of /graphql is a GraphQL error with a code, and `/graphql/` is no redirect."""

from __future__ import annotations

from typing import Any

import pytest

MUTATION = 'mutation { deleteProject(input: {id: "x"}) { userErrors { code } } }'
JSON = {"content-type": "application/json"}


@pytest.mark.parametrize(
    ("method", "url", "request_options", "status", "code"),
    [
        ("POST", "/graphql", {"content": b'{"query": ', "headers": JSON}, 400, "BAD_USER_INPUT"),
        ("POST", "/graphql", {"content": b"{ me { id } }"}, 400, "BAD_USER_INPUT"),
        (
            "POST",
            "/graphql",
            {"json": {"query": "subscription { creditsChanged { balance } }"}},
            400,
            "BAD_USER_INPUT",
        ),
        ("GET", "/graphql", {"params": {"query": MUTATION}}, 400, "BAD_USER_INPUT"),
        ("POST", "/graphql", {"json": {"query": 3}}, 400, "BAD_USER_INPUT"),
        ("POST", "/graphql", {"json": {}}, 400, "BAD_USER_INPUT"),
        ("PUT", "/graphql", {"json": {"query": "{ __typename }"}}, 405, "BAD_USER_INPUT"),
        ("DELETE", "/graphql/", {}, 405, "BAD_USER_INPUT"),
        ("GET", "/graphql", {"headers": {"accept": "text/html"}}, 404, "NOT_FOUND"),
    ],
)
async def test_refusals_are_graphql_errors_with_a_code(
    http: Any, method: str, url: str, request_options: dict[str, Any], status: int, code: str
) -> None:
    reply = await http.request(method, url, **request_options)
    assert reply.status_code == status
    assert reply.headers["content-type"] == "application/json"
    [error] = reply.json()["errors"]
    assert error["extensions"]["code"] == code and error["message"]
    assert reply.headers["x-request-id"]


async def test_an_unsupported_method_says_which_are(http: Any) -> None:
    assert (await http.put("/graphql")).headers["allow"] == "GET, POST"


async def test_the_trailing_slash_is_served_not_redirected(http: Any) -> None:
    reply = await http.post("/graphql/", json={"query": "{ __typename }"})
    assert reply.status_code == 200
    assert reply.json()["data"] == {"__typename": "Query"}


async def test_the_bare_address_points_at_graphql(http: Any) -> None:
    reply = await http.get("/")
    assert reply.status_code == 200
    assert reply.json()["graphql"] == "/graphql"
