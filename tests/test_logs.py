"""The process's logging: uvicorn's line per WebSocket handshake is dropped, its errors are not."""

from __future__ import annotations

import logging

from velro_graphql.logs import configure_logging


def _record(message: str, *args: object, level: int = logging.INFO) -> logging.LogRecord:
    return logging.LogRecord("uvicorn.error", level, __file__, 1, message, args, None)


def test_websocket_handshakes_are_not_logged_but_errors_are() -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        configure_logging()
        configure_logging()  # twice, as tests and restarts do: still one filter
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    uvicorn = logging.getLogger("uvicorn.error")
    assert not uvicorn.filter(_record('%s - "WebSocket %s" [accepted]', "127.0.0.1", "/graphql"))
    assert not uvicorn.filter(_record("connection open"))
    assert uvicorn.filter(_record("Exception in ASGI application\n", level=logging.ERROR))
    assert uvicorn.filter(_record("Application startup complete."))
    names = [getattr(f, "__name__", None) for f in uvicorn.filters]
    assert names.count("_not_a_handshake") == 1
