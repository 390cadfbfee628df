"""What `serve` does around uvicorn: take the port first, believe only named proxies, and say in
one line where everything is once it listens."""

from __future__ import annotations

import shlex
import socket
import sys
from pathlib import Path
from typing import Any

import uvicorn

from velro_graphql.config import Settings, default_home
from velro_graphql.errors import ConfigError

_ANY_ADDRESS = ("0.0.0.0", "::", "")


def take_port(host: str, port: int) -> socket.socket:
    """Bind the port before anything starts, so a taken one is reported at once."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port} ({error.strerror}): is another server running "
            "there? Choose a free port with --port (or PORT)."
        ) from None
    return sock


def server_config(app: Any, settings: Settings, *, host: str, port: int) -> uvicorn.Config:
    """uvicorn's settings; forwarded headers count only from FORWARDED_ALLOW_IPS (uvicorn would
    otherwise believe any local process, and read that variable itself), and a WebSocket
    message is refused (1009) past MAX_WEBSOCKET_MESSAGE_BYTES before it is buffered whole
    (uvicorn's default is 16 MiB)."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        forwarded_allow_ips=list(settings.forwarded_allow_ips),
        ws_max_size=settings.websocket_message_limit,
    )


class Server(uvicorn.Server):
    """uvicorn's server, which prints `ready_line` once it listens."""

    def __init__(self, config: uvicorn.Config, *, ready_line: str) -> None:
        super().__init__(config)
        self.ready_line = ready_line

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            print(self.ready_line, file=sys.stderr, flush=True)


def ready_line(settings: Settings, *, host: str, port: int) -> str:
    """Where to point a browser, what runs behind it, and how to get a token."""
    shown = "127.0.0.1" if host in _ANY_ADDRESS else host
    url = f"http://{shown}:{port}/graphql"
    where = f"GraphiQL at {url}" if settings.graphiql_enabled else f"GraphQL at {url}"
    return f"velro-graphql ready: {where} ({_mode(settings)}); {_token_hint(settings)}"


def _mode(settings: Settings) -> str:
    home = settings.velro_home
    database = (
        f"embedded PostgreSQL under {home / 'pgdata'}"
        if settings.embedded
        else "PostgreSQL of DATABASE_URL"
    )
    supabase = settings.supabase_url and settings.supabase_service_role_key
    storage = "Supabase Storage" if supabase else f"local storage under {home / 'files'}"
    provider = "fal" if settings.fal_key else "simulator (no FAL_KEY)"
    return f"{database}, {storage}, {provider}"


def _token_hint(settings: Settings) -> str:
    if not (settings.embedded or settings.supabase_jwt_secret):
        return "tokens come from Supabase Auth"
    home = settings.velro_home
    variable = "" if home == default_home() else f"VELRO_HOME={shlex.quote(str(home))} "
    return f"a token: {variable}{_command()} token --email you@example.com"


def _command() -> str:
    """This program as the user can run it again from any directory."""
    script = Path(sys.argv[0])
    if script.name == "velro-graphql":
        return shlex.quote(str(script.absolute()))
    return f"{shlex.quote(sys.executable)} -m velro_graphql"


def legacy_home_notice(settings: Settings) -> str | None:
    """A word for users of earlier versions, whose home was `./.velro` wherever they ran."""
    legacy = Path(".velro").absolute()
    if "velro_home" in settings.model_fields_set or not legacy.is_dir():
        return None
    if legacy == settings.velro_home:
        return None
    return (
        f"velro-graphql: {legacy} (the home of earlier versions) is not used: the home is "
        f"{settings.velro_home}. To keep its data, move it there or set VELRO_HOME={legacy}."
    )
