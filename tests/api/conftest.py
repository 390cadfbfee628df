"""Fixtures shared by the modules of tests/api: the verifier and JWKS endpoint of the auth
tests, and the seeded app of the fuzz tests."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import asyncpg
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.api.auth_tokens import ISSUER, SECRET, JwksServer, Keys, public_jwk
from tests.api.fuzz_app import EMAIL, seed
from tests.conftest import TEMPLATE, app_client
from tests.factories import TEST_JWT_SECRET, make_token
from velro_graphql.api.auth import TokenVerifier
from velro_graphql.config import Settings
from velro_graphql.db.embedded import with_database


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys(
        ec_key=ec.generate_private_key(ec.SECP256R1()),
        rsa_key=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        rotated_key=ec.generate_private_key(ec.SECP256R1()),
    )


@pytest.fixture
def jwks_server(keys: Keys) -> Iterator[JwksServer]:
    state = JwksServer(
        url="", keys=[public_jwk(keys.ec_key, "ec-1"), public_jwk(keys.rsa_key, "rsa-1")]
    )

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests += 1
            body = state.body or json.dumps({"keys": state.keys}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_port}/auth/v1/.well-known/jwks.json"
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def verifier(jwks_server: JwksServer) -> TokenVerifier:
    return TokenVerifier(hs256_secret=SECRET, jwks_url=jwks_server.url, issuer=ISSUER)


@pytest.fixture(scope="module")
async def fuzz_http(
    admin_dsn: str, template_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Any]:
    """One app and database per fuzz module, signed in as a user with seeded rows."""
    name = f"velro_fuzz_{os.getpid()}"
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
        settings = Settings(
            database_url=with_database(admin_dsn, name),
            velro_home=tmp_path_factory.mktemp("fuzz"),
            supabase_jwt_secret=TEST_JWT_SECRET,
            # Refusals for being too fast would hide what the inputs themselves cause.
            rate_limit_operations_per_minute=1_000_000,
            rate_limit_generations_per_minute=1_000_000,
        )
        async with app_client(settings) as http:
            await seed(http)
            http.headers["Authorization"] = f"Bearer {make_token(EMAIL)}"
            yield http
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
