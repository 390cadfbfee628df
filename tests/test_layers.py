"""Layers: imports point down only (ARCHITECTURE.md's layout), checked on every import.

Every `import` and `from ... import` of the package counts, wherever it stands: at the top,
inside a function, under `if TYPE_CHECKING:`.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import velro_graphql

PACKAGE = Path(velro_graphql.__file__).parent
BASE = {"backoff", "bounded_cache", "config", "errors", "entities", "logs"}
EVERY_LAYER = {"api", "worker", "services", "db", "providers", "storage", "serving", *BASE}

# layer -> the layers of the package it may import (its own always included)
MAY_IMPORT: dict[str, set[str]] = {
    "errors": set(),
    "entities": set(),
    "logs": set(),
    "backoff": set(),
    "bounded_cache": set(),
    "config": {"errors"},
    "db": BASE,
    "providers": BASE,
    "storage": BASE,
    "services": {"db", "providers", "storage", *BASE},
    "worker": {"services", *BASE},
    "api": {"services", "worker", *BASE},  # its lifespan runs a worker inside `serve`
    "serving": BASE,
    "cli": EVERY_LAYER,  # the command line composes everything
    "__main__": {"cli"},
}

# third-party package -> the only layers that may import it
ONLY_IN: dict[str, set[str]] = {
    "asyncpg": {"db"},
    "fal_client": {"providers"},
    "storage3": {"storage"},
    "supabase": {"storage"},
    "strawberry": {"api"},
    "graphql": {"api"},
    "fastapi": {"api"},
    "starlette": {"api"},
}


def imported_modules(tree: ast.AST, module: str) -> Iterator[tuple[int, str]]:
    """Each (line, absolute module name) the source imports, relative imports resolved."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = module.split(".")[: -node.level] if node.level else []
            name = ".".join([*base, node.module or ""]).strip(".")
            yield from ((node.lineno, f"{name}.{alias.name}") for alias in node.names)


def layer_of(module: str) -> str:
    return module.split(".")[1]


def violations(source: str, module: str) -> list[str]:
    """What in `source` (the text of package module `module`) crosses a layer the wrong way."""
    layer, found = layer_of(module), []
    for line, target in imported_modules(ast.parse(source), module):
        top = target.split(".")[0]
        if top == "velro_graphql":
            to = layer_of(target)
            if to != layer and to not in MAY_IMPORT[layer]:
                found.append(f"{module}:{line} ({layer}) imports {target} ({to})")
        elif top in ONLY_IN and layer not in ONLY_IN[top]:
            found.append(f"{module}:{line} ({layer}) imports {top}")
    return found


def package_modules() -> Iterator[tuple[str, str]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if len(parts) > 1:  # the package's own __init__ belongs to no layer
            yield ".".join(parts), path.read_text()


def test_every_layer_has_a_rule() -> None:
    layers = {layer_of(module) for module, _ in package_modules()}
    assert layers <= set(MAY_IMPORT)


def test_imports_point_down_only() -> None:
    found = [v for module, source in package_modules() for v in violations(source, module)]
    assert found == []


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("velro_graphql.api.context", "from velro_graphql.db.pool import Pool"),
        ("velro_graphql.api.routes", "from velro_graphql.providers import fal_webhooks"),
        ("velro_graphql.api.loaders", "from velro_graphql.storage.base import Storage"),
        ("velro_graphql.api.types.generation", "from ...db.json_reads import round_fraction"),
        (
            "velro_graphql.api.resolvers.query",
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from velro_graphql.db.generations import Filter",
        ),
        ("velro_graphql.services.events", "def f():\n    import asyncpg"),
        ("velro_graphql.services.health", "import fal_client"),
        ("velro_graphql.worker.runner", "from velro_graphql.db.jobs import Job"),
        ("velro_graphql.services.users", "from velro_graphql.api import context"),
        ("velro_graphql.db.rows", "import strawberry"),
        ("velro_graphql.services.runtime", "from supabase import acreate_client"),
    ],
)
def test_a_forbidden_import_is_caught(module: str, source: str) -> None:
    assert len(violations(source, module)) == 1
