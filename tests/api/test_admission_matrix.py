"""Every admission rule over every transport: the same outcome and the same code.

Each rule has a query form (HTTP POST, HTTP GET, a WebSocket query) and a subscription form
(graphql-transport-ws and the legacy graphql-ws); each transport signs in as its own user, so
budgets do not mix.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.live_server import GRAPHQL_WS, TRANSPORT_WS, LiveServer, live_server, receive, send
from tests.factories import make_token
from velro_graphql.api.persisted import sha256_hex
from velro_graphql.config import Settings

BALANCE = "subscription { creditsChanged { balance } }"
KNOWN = "{ me { creditsBalance } }"


@dataclass(frozen=True)
class Rule:
    query: str
    subscription: str
    code: str  # the first error's code, or "ok"
    variables: dict[str, Any] | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    by_hash: bool = False  # send only `extensions.persistedQuery`, no document
    repeat: int = 1  # the outcome of the last of this many sends counts


def chain(depth: int) -> str:
    inner = "id"
    for _ in range(depth):
        inner = f"project {{ generations(first: 1) {{ nodes {{ {inner} }} }} }}"
    return inner


COST = "generations(first: $n) { nodes { project { generations(first: $n) { nodes { id } } } } }"
DIGITS = "9" * 200
RULES = {
    "accepted": Rule(KNOWN, BALANCE, "ok"),
    "parse": Rule("{ me {", "subscription { creditsChanged {", "GRAPHQL_PARSE_FAILED"),
    "validation": Rule("{ me { nope } }", "subscription { nope }", "BAD_USER_INPUT"),
    "depth": Rule(
        "{ generations(first: 1) { nodes { " + chain(6) + " } } }",
        "subscription { generationEvents { " + chain(6) + " } }",
        "BAD_USER_INPUT",
    ),
    "aliases": Rule(
        "{ " + " ".join(f"a{n}: me {{ id }}" for n in range(31)) + " }",
        "subscription { creditsChanged { "
        + " ".join(f"a{n}: balance" for n in range(31))
        + " } }",
        "BAD_USER_INPUT",
    ),
    "tokens": Rule(
        "{ me { " + " ".join(["id"] * 3100) + " } }",
        "subscription { creditsChanged { " + " ".join(["balance"] * 3100) + " } }",
        "BAD_USER_INPUT",
    ),
    "integer literal": Rule(
        f"{{ generations(first: {DIGITS}) {{ totalCount }} }}",
        f"subscription {{ generationEvents {{ project {{ generations(first: {DIGITS})"
        " { totalCount } } } }",
        "BAD_USER_INPUT",
    ),
    "cost with a variable default": Rule(
        f"query($n: Int = 100) {{ {COST} }}",
        f"subscription($n: Int = 100) {{ generationEvents {{ project {{ {COST} }} }} }}",
        "BAD_USER_INPUT",
    ),
    "NUL": Rule(
        "query($p: ID) { generations(filter: {projectId: $p}) { totalCount } }",
        "subscription($p: ID) { generationEvents(projectId: $p) { id } }",
        "BAD_USER_INPUT",
        variables={"p": "a\x00b"},
    ),
    "surrogate": Rule(
        "query($p: ID) { generations(filter: {projectId: $p}) { totalCount } }",
        "subscription($p: ID) { generationEvents(projectId: $p) { id } }",
        "BAD_USER_INPUT",
        variables={"p": "a\ud800b"},
    ),
    "budget": Rule(
        KNOWN, BALANCE, "RATE_LIMITED",
        settings={"rate_limit_operations_per_minute": 3}, repeat=4,
    ),
    "unknown hash": Rule(
        "{ me { id email } }", "subscription { creditsChanged { __typename } }",
        "PERSISTED_QUERY_NOT_FOUND", by_hash=True,
    ),
    "persisted only, unknown document": Rule(
        "{ me { id } }", "subscription { creditsChanged { balance __typename } }",
        "PERSISTED_QUERY_REQUIRED", settings={"persisted_queries_only": True},
    ),
    "persisted only, known by hash": Rule(
        KNOWN, BALANCE, "ok", settings={"persisted_queries_only": True}, by_hash=True
    ),
}  # fmt: skip


def body(rule: Rule, query: str) -> dict[str, Any]:
    sent: dict[str, Any] = {"variables": rule.variables}
    if rule.by_hash:
        sent["extensions"] = {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(query)}}
    else:
        sent["query"] = query
    return sent


def first_code(reply: dict[str, Any]) -> str:
    errors = reply.get("errors")
    return str(errors[0]["extensions"]["code"]) if errors else "ok"


accept_json = {"Accept": "application/json"}  # a browser's `text/html` asks for GraphiQL


async def over_http(server: LiveServer, rule: Rule, email: str, method: str) -> str:
    headers = {"Authorization": f"Bearer {make_token(email)}"}
    sent = body(rule, rule.query)
    async with httpx.AsyncClient(base_url=server.url.replace("ws://", "http://")) as http:
        for _ in range(rule.repeat):
            if method == "POST":
                # JSON's own escapes: "\ud800" must reach the server as the escape it is.
                content = json.dumps(sent)
                headers["Content-Type"] = "application/json"
                reply = await http.post("", content=content, headers=headers)
            else:
                params = {k: v if k == "query" else json.dumps(v) for k, v in sent.items() if v}
                reply = await http.get("", params=params, headers=accept_json | headers)
    return first_code(reply.json())


async def over_websocket(server: LiveServer, rule: Rule, email: str, mode: str) -> str:
    protocol = GRAPHQL_WS if mode == "legacy subscription" else TRANSPORT_WS
    query = rule.query if mode == "ws query" else rule.subscription
    ws = await server.signed_in(email, protocol)
    start = "start" if protocol == GRAPHQL_WS else "subscribe"
    for n in range(rule.repeat):
        await ws.send(json.dumps({"type": start, "id": str(n), "payload": body(rule, query)}))
        reply = await answer(ws, str(n))
    await ws.close()
    if reply["type"] == "error":
        payload = reply["payload"]
        return first_code({"errors": payload if isinstance(payload, list) else [payload]})
    return first_code(reply["payload"])


async def answer(ws: Any, op_id: str) -> dict[str, Any]:
    """The first result or error of operation `op_id` (skipping others' `complete`)."""
    while True:
        reply = await receive(ws)
        if reply.get("id") == op_id and reply["type"] in ("next", "data", "error"):
            return reply


Transport = Callable[[LiveServer, Rule, str], Awaitable[str]]
TRANSPORTS: dict[str, Transport] = {
    "http post": lambda s, r, e: over_http(s, r, e, "POST"),
    "http get": lambda s, r, e: over_http(s, r, e, "GET"),
    "ws query": lambda s, r, e: over_websocket(s, r, e, "ws query"),
    "ws subscription": lambda s, r, e: over_websocket(s, r, e, "ws subscription"),
    "legacy subscription": lambda s, r, e: over_websocket(s, r, e, "legacy subscription"),
}


@pytest.mark.parametrize("name", list(RULES))
async def test_every_rule_has_one_outcome_over_every_transport(
    settings: Settings, tmp_path: Path, name: str
) -> None:
    rule = RULES[name]
    known = tmp_path / "persisted.json"
    known.write_text(json.dumps([KNOWN, BALANCE]))
    configured = settings.model_copy(update={"persisted_queries_file": known, **rule.settings})
    async with live_server(configured) as server:
        outcomes = {
            transport: await send_over(server, rule, f"{n}@example.com")
            for n, (transport, send_over) in enumerate(TRANSPORTS.items())
        }
    assert outcomes == dict.fromkeys(TRANSPORTS, rule.code)


async def test_a_websocket_query_runs_on_a_persisted_hash_and_reports_its_cost(
    settings: Settings,
) -> None:
    async with live_server(settings) as server:
        ws = await server.signed_in("apq@example.com")
        persisted = {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(KNOWN)}}
        await send(ws, "subscribe", id="1", payload={"query": KNOWN, "extensions": persisted})
        learned = await answer(ws, "1")
        await send(ws, "subscribe", id="2", payload={"extensions": persisted})
        by_hash = await answer(ws, "2")
        await ws.close()
    assert (
        learned["payload"]["data"] == by_hash["payload"]["data"] == {"me": {"creditsBalance": 1000}}
    )
    assert by_hash["payload"]["extensions"]["cost"]["requestedQueryCost"] == 1
