"""Builders of test data: callers and rows, each with overridable defaults."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt

from velro_graphql.api.auth import local_user_id
from velro_graphql.entities import Caller

TEST_JWT_SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789"


def make_claims(email: str, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": str(local_user_id(email)),
        "email": email,
        "aud": "authenticated",
        "role": "authenticated",
        "iat": now,
        "exp": now + 3600,
        "session_id": str(uuid.uuid4()),
        "is_anonymous": False,
    }
    claims.update(overrides)
    return claims


def make_caller(email: str) -> Caller:
    claims = make_claims(email)
    return Caller(user_id=uuid.UUID(claims["sub"]), email=email, claims=claims)


def make_token(email: str, *, secret: str = TEST_JWT_SECRET, **overrides: Any) -> str:
    return jwt.encode(make_claims(email, **overrides), secret, algorithm="HS256")


async def make_project(conn: Any, user_id: uuid.UUID, **overrides: Any) -> uuid.UUID:
    values = {"name": "Project", "description": "", "visibility": "private", **overrides}
    project_id: uuid.UUID = await conn.fetchval(
        "INSERT INTO projects (user_id, name, description, visibility) "
        "VALUES ($1, $2, $3, $4) RETURNING id",
        user_id,
        values["name"],
        values["description"],
        values["visibility"],
    )
    return project_id


async def make_generation(conn: Any, user_id: uuid.UUID, **overrides: Any) -> uuid.UUID:
    values: dict[str, Any] = {
        "project_id": None,
        "model_id": "fal-ai/flux-pro",
        "prompt": "a lighthouse at dusk",
        "status": "QUEUED",
        "cost": 50,
        "provider": "simulator",
        **overrides,
    }
    finished = values["status"] in ("COMPLETED", "FAILED", "CANCELLED")
    generation_id: uuid.UUID = await conn.fetchval(
        "INSERT INTO generations (user_id, project_id, model_id, prompt, status, cost, provider,"
        " deadline_at, completed_at, error_code, error_message) VALUES ($1, $2, $3, $4, $5, $6,"
        " $7, now() + interval '10 minutes', CASE WHEN $8 THEN now() END,"
        " CASE WHEN $5 = 'FAILED' THEN 'PROVIDER_ERROR' END,"
        " CASE WHEN $5 = 'FAILED' THEN 'failed' END) RETURNING id",
        user_id,
        values["project_id"],
        values["model_id"],
        values["prompt"],
        values["status"],
        values["cost"],
        values["provider"],
        finished,
    )
    return generation_id
