"""The `velro-graphql` command: serve | worker | migrate | token | export-schema."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Sequence

from velro_graphql.config import Settings
from velro_graphql.errors import ConfigError


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        result: int = args.run(args, Settings())
    except ConfigError as error:
        print(f"velro-graphql: {error}", file=sys.stderr)
        return 2
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="velro-graphql", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="command")

    serve = commands.add_parser("serve", help="run the API (and a worker, unless --no-worker)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=None, help="default: PORT or 8000")
    serve.add_argument("--no-worker", action="store_true", help="do not run generation jobs")
    serve.set_defaults(run=_serve)

    commands.add_parser("worker", help="run generation jobs only").set_defaults(run=_worker)
    commands.add_parser("migrate", help="apply pending migrations").set_defaults(run=_migrate)

    token = commands.add_parser("token", help="print a bearer token for a user")
    token.add_argument("--email", required=True)
    token.add_argument("--ttl", type=int, default=3600, help="seconds (default 3600)")
    token.set_defaults(run=_token)

    export = commands.add_parser("export-schema", help="print the GraphQL schema (SDL)")
    export.set_defaults(run=_export_schema)
    return parser


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from velro_graphql import serving
    from velro_graphql.api.app import create_app
    from velro_graphql.logs import configure_logging

    settings.check()
    if args.port is not None:
        settings = settings.model_copy(update={"port": args.port})
    host, port = args.host, settings.port
    sock = serving.take_port(host, port)  # before the embedded database starts
    if notice := serving.legacy_home_notice(settings):
        print(notice, file=sys.stderr)
    configure_logging()
    app = create_app(settings, run_worker=not args.no_worker, freeze_gc=True)
    config = serving.server_config(app, settings, host=host, port=port)
    line = serving.ready_line(settings, host=host, port=port)
    # uvicorn re-raises the Ctrl-C it shut down on, once everything is stopped.
    with contextlib.suppress(KeyboardInterrupt):
        serving.Server(config, ready_line=line).run(sockets=[sock])
    return 0


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    from velro_graphql.logs import configure_logging
    from velro_graphql.worker.runner import run_until_signalled

    configure_logging()
    asyncio.run(run_until_signalled(settings))
    return 0


def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    from velro_graphql.db.database import resolve_dsn, run_migrations

    async def run() -> list[str]:
        return await run_migrations(await resolve_dsn(settings))

    applied = asyncio.run(run())
    print("applied: " + ", ".join(applied) if applied else "already up to date")
    return 0


def _token(args: argparse.Namespace, settings: Settings) -> int:
    from velro_graphql.api.auth import mint_token

    if args.ttl <= 0:
        raise ConfigError("--ttl must be a positive number of seconds.")
    print(
        mint_token(
            secret=settings.local_jwt_secret(),
            email=args.email,
            ttl_seconds=args.ttl,
            issuer=settings.jwt_issuer,
        )
    )
    return 0


def _export_schema(args: argparse.Namespace, settings: Settings) -> int:
    from velro_graphql.api.schema import build_schema

    print(build_schema().as_str())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
