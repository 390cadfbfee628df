"""The process's logging: uvicorn's line per WebSocket handshake is dropped, its errors are not."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from velro_graphql.logs import configure_logging


@pytest.fixture
def configured() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging()
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_websocket_handshakes_are_not_logged_but_errors_are(
    configured: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging()  # twice, as tests and restarts do: still one filter
    uvicorn = logging.getLogger("uvicorn.error")
    uvicorn.info('%s - "WebSocket %s" [accepted]', "127.0.0.1:5000", "/graphql")
    uvicorn.info("connection open")
    uvicorn.error("Exception in ASGI application\n")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and "Exception in ASGI application" in lines[0]
    assert len(uvicorn.filters) == 1
