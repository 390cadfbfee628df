"""The `velro-graphql` command: serve | worker | migrate | token | export-schema | catalog.

Each command declares the settings it reads in `ENVIRONMENT`; its `--help` lists them as
environment variables with their defaults.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from velro_graphql.config import Settings, default_home
from velro_graphql.errors import ConfigError

# Read only by the API of `serve`; a worker reads every other setting.
_API_ONLY = frozenset(
    {
        "cors_origins", "redis_url", "forwarded_allow_ips", "jwks_url",
        "jwt_leeway_seconds", "max_subscriptions_per_connection", "max_websockets_per_user",
        "rate_limit_operations_per_minute", "rate_limit_generations_per_minute",
        "max_query_depth", "max_query_aliases", "max_query_tokens", "max_query_cost",
        "max_body_bytes", "max_websocket_message_bytes", "document_cache_max_bytes", "graphiql",
        "introspection", "compiled_reads", "persisted_queries_only", "persisted_queries_file",
        "persisted_queries_max_bytes", "fal_webhook_jwks_url",
    }
)  # fmt: skip
_DATABASE = ("database_url", "velro_home")
# The settings (config.py field names) each command reads: its --help lists them.
ENVIRONMENT: dict[str, tuple[str, ...]] = {
    "serve": tuple(name for name in Settings.model_fields if name != "metrics_port"),
    "worker": tuple(name for name in Settings.model_fields if name not in _API_ONLY),
    "migrate": _DATABASE,
    "token": ("supabase_jwt_secret", "supabase_url", *_DATABASE),
    "export-schema": (),
    "catalog": _DATABASE,
}
T = TypeVar("T")


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

    add = _adder(commands)
    serve = add("serve", "run the API (and a worker, unless --no-worker)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=None, help="default: PORT or 8000")
    serve.add_argument("--no-worker", action="store_true", help="do not run generation jobs")
    serve.set_defaults(run=_serve)

    add("worker", "run generation jobs only").set_defaults(run=_worker)
    add("migrate", "apply pending migrations").set_defaults(run=_migrate)

    token = add("token", "print a bearer token for a user")
    token.add_argument("--email", required=True)
    token.add_argument("--ttl", type=int, default=3600, help="seconds (default 3600)")
    token.set_defaults(run=_token)

    add("export-schema", "print the GraphQL schema (SDL)").set_defaults(run=_export_schema)
    _catalog_parser(add("catalog", "export, import or change the catalog"))
    return parser


def _adder(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> Callable[[str, str], argparse.ArgumentParser]:
    """Add a command whose --help ends with the environment variables ENVIRONMENT gives it."""

    def add(name: str, help: str) -> argparse.ArgumentParser:
        return commands.add_parser(
            name,
            help=help,
            description=help,
            epilog=environment_help(ENVIRONMENT.get(name, ())),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    return add


def environment_help(fields: Sequence[str]) -> str:
    """`environment variables:` and one line per setting: its variable and its default."""
    if not fields:
        return "environment variables: none"
    lines = [f"  {name.upper():<36} default: {_default(name)}" for name in fields]
    return "\n".join(['environment variables (README "Configuration"):', *lines])


def _default(name: str) -> str:
    field = Settings.model_fields[name]
    if name == "velro_home":
        return str(default_home())
    if field.default is None:
        return "unset"
    if field.default == ():
        return "empty"
    return str(field.default).lower() if isinstance(field.default, bool) else str(field.default)


def _catalog_parser(catalog: argparse.ArgumentParser) -> None:
    actions = catalog.add_subparsers(required=True, metavar="action")
    export = actions.add_parser("export", help="write the catalog as JSON (default: stdout)")
    export.add_argument("file", nargs="?", type=Path)
    export.set_defaults(run=_catalog_export)
    load = actions.add_parser("import", help="replace the catalog by a file's (checked first)")
    load.add_argument("file", type=Path)
    load.set_defaults(run=_catalog_import)
    change = actions.add_parser("set", help="change one model's price or availability")
    change.add_argument("model_id")
    change.add_argument("--credits", type=int, help="credits per pricing unit")
    state = change.add_mutually_exclusive_group()
    state.add_argument("--deprecated", dest="deprecated", action="store_true", default=None)
    state.add_argument("--active", dest="deprecated", action="store_false")
    shown = change.add_mutually_exclusive_group()
    shown.add_argument("--hidden", dest="hidden", action="store_true", default=None)
    shown.add_argument("--listed", dest="hidden", action="store_false")
    change.set_defaults(run=_catalog_set)


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


def _catalog_export(args: argparse.Namespace, settings: Settings) -> int:
    from velro_graphql.services import catalog_store

    entries = _on_catalog(settings, catalog_store.export_catalog)
    text = json.dumps(entries, indent=2, ensure_ascii=False) + "\n"
    if args.file is None:
        sys.stdout.write(text)
    else:
        args.file.write_text(text, encoding="utf-8")
    return 0


def _catalog_import(args: argparse.Namespace, settings: Settings) -> int:
    from velro_graphql.services import catalog_store

    changes = _on_catalog(settings, lambda pool: catalog_store.import_catalog(pool, args.file))
    print("\n".join(changes) if changes else "no changes")
    return 0


def _catalog_set(args: argparse.Namespace, settings: Settings) -> int:
    from velro_graphql.services import catalog_store

    def change(pool: Any) -> Awaitable[str]:
        return catalog_store.set_model(
            pool,
            args.model_id,
            credits=args.credits,
            deprecated=args.deprecated,
            hidden=args.hidden,
        )

    print(_on_catalog(settings, change))
    return 0


def _on_catalog(settings: Settings, action: Callable[[Any], Awaitable[T]]) -> T:
    """Run a catalog action on the database (seeded first, as a server would)."""
    from velro_graphql.db.database import open_database
    from velro_graphql.services import catalog_store

    async def run() -> T:
        async with open_database(settings) as database:
            await catalog_store.seed_catalog(database.pool)
            return await action(database.pool)

    try:
        return asyncio.run(run())
    except (ValueError, OSError) as error:
        raise ConfigError(str(error)) from error


def _export_schema(args: argparse.Namespace, settings: Settings) -> int:
    from velro_graphql.api.schema import build_schema

    print(build_schema().as_str())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
