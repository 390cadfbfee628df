"""What both fuzz modules share: the rows seeded into their app, the real and malformed ids,
cursors and strings they send, and the contract every answer is held to: no 5xx, no input
mistake masked as INTERNAL, no stack trace, no error without a code."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from tests.factories import make_generation, make_project, make_token
from velro_graphql.api.auth import local_user_id
from velro_graphql.api.types.relay import to_global_id
from velro_graphql.db.read_model import NEWEST_FIRST
from velro_graphql.services.catalog import load_catalog
from velro_graphql.services.pagination import encode_int_key, encode_key

CATALOG = load_catalog()

EMAIL = "fuzz@example.com"
OTHER_EMAIL = "someone-else@example.com"
# Rows the fixture creates under these ids, so generated operations can hit real objects.
OWN = {
    "project": uuid.UUID("00000000-0000-4000-8000-00000000f001"),
    "queued": uuid.UUID("00000000-0000-4000-8000-00000000f002"),
    "completed": uuid.UUID("00000000-0000-4000-8000-00000000f003"),
    "failed": uuid.UUID("00000000-0000-4000-8000-00000000f004"),
}
FOREIGN = {
    "project": uuid.UUID("00000000-0000-4000-8000-00000000f101"),
    "generation": uuid.UUID("00000000-0000-4000-8000-00000000f102"),
}
KNOWN_IDS = [
    to_global_id("Project", OWN["project"]),
    *(to_global_id("Generation", OWN[k]) for k in ("queued", "completed", "failed")),
    to_global_id("Project", FOREIGN["project"]),
    to_global_id("Generation", FOREIGN["generation"]),
    to_global_id("User", local_user_id(EMAIL)),
    to_global_id("User", local_user_id(OTHER_EMAIL)),
]


def b64(text: str | bytes) -> str:
    raw = text.encode() if isinstance(text, str) else text
    return base64.b64encode(raw).decode()


def cursor(text: str | bytes) -> str:
    raw = text.encode() if isinstance(text, str) else text
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


ZERO = uuid.UUID(int=0)
CURSORS = [
    encode_key(NEWEST_FIRST, (datetime.now(UTC), OWN["project"])),
    encode_key(NEWEST_FIRST, (datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))), ZERO)),
    encode_key(
        NEWEST_FIRST, (datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-14))), ZERO)
    ),
    cursor(f"t:2020-01-01T00:00:00|{ZERO}"),
    cursor("t:not-a-date|not-a-uuid"),
    cursor("t:"),
    encode_int_key(1),
    encode_int_key(9_999_999_999_999_999_999),
    cursor("i:-1"),
    cursor("i:²"),
    cursor("i:١٢"),
    cursor("i:"),
    cursor("x:1"),
    cursor(b"\xff\xfe"),
    "",
    "!!!",
    "a" * 199,
    "a" * 5000,
    "\x00",
]
IDS = [
    *KNOWN_IDS,
    "",
    "1",
    "\x00",
    "Project:" + str(OWN["project"]),
    b64("Project:"),
    b64("Project:not-a-uuid"),
    b64(f"Nothing:{ZERO}"),
    b64(f"Generation:{OWN['project']}"),
    b64(f"Project:{OWN['project']}".encode() + b"\xff"),
    b64(b"\xff\xfe\xfd"),
    b64(f"Project:{OWN['project']}").rstrip("="),
    cursor(f"Project:{OWN['project']}"),
    "x" * 10_000,
]
MODEL_IDS = [model.id for model in CATALOG]
TRICKY_STRINGS = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ufeff",
    "\u202e",
    "💥" * 60,
    "a" * 101,
    "a" * 501,
    "'; DROP TABLE projects; --",
    "%s%n",
    "https://example.com/image.png",
    "http://169.254.169.254/latest/meta-data",
    "javascript:alert(1)",
    "file:///etc/passwd",
    "https://" + "a" * 3000 + ".com/x.png",
]


async def seed(http: Any) -> None:
    """Sign both users in (their first sign-in provisions them), then give them rows."""
    for email in (EMAIL, OTHER_EMAIL):
        first = {"Authorization": f"Bearer {make_token(email)}"}
        reply = await http.post("/graphql", json={"query": "{ me { id } }"}, headers=first)
        assert "errors" not in reply.json(), reply.text
    own, other = local_user_id(EMAIL), local_user_id(OTHER_EMAIL)
    async with http.app.state.services.pool.acquire() as conn:
        await rekey(conn, "projects", await make_project(conn, own), OWN["project"])
        await rekey(conn, "projects", await make_project(conn, other), FOREIGN["project"])
        for status in ("queued", "completed", "failed"):
            made = await make_generation(
                conn, own, project_id=OWN["project"], status=status.upper()
            )
            await rekey(conn, "generations", made, OWN[status])
        made = await make_generation(conn, other, project_id=FOREIGN["project"])
        await rekey(conn, "generations", made, FOREIGN["generation"])
        thumbnails = [{"size": 256, "bucket": "generations", "path": f"{own}/t_256.webp"}]
        await conn.execute(
            "INSERT INTO generation_outputs (generation_id, position, user_id, bucket, path,"
            " content_type, thumbnails) VALUES ($1, 0, $2, 'generations', $3, 'image/png', $4)",
            OWN["completed"],
            own,
            f"{own}/0.png",
            thumbnails,
        )


async def rekey(conn: Any, table: str, made: uuid.UUID, wanted: uuid.UUID) -> None:
    await conn.execute(f"UPDATE {table} SET id = $1 WHERE id = $2", wanted, made)


def error_list(body: str) -> list[Any]:
    try:
        parsed = json.loads(body)
    except ValueError:
        return []
    errors = parsed.get("errors") if isinstance(parsed, dict) else None
    return errors if isinstance(errors, list) else []


def assert_handled(response: Any, sent: object) -> None:
    """The contract for any request: no 5xx, no stack trace, each error coded, none INTERNAL."""
    text = response.text
    report = f"sent {str(sent)[:3000]}\ngot {response.status_code}: {text[:3000]}"
    assert response.status_code < 500, report
    assert "Traceback" not in text, report
    assert 'File "' not in text, report
    for error in error_list(text):
        code = (error.get("extensions") or {}).get("code") if isinstance(error, dict) else None
        assert code is not None, report
        assert code != "INTERNAL", report
