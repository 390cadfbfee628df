"""What background work needs: the database, providers, storage and an HTTP client."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
import httpx

from velro_graphql.config import Settings
from velro_graphql.providers.base import Provider
from velro_graphql.services.catalog import Model
from velro_graphql.storage.base import Storage


@dataclass
class Runtime:
    settings: Settings
    pool: asyncpg.Pool
    providers: dict[str, Provider]
    storage: Storage
    http: httpx.AsyncClient
    models: dict[str, Model]

    @property
    def default_provider(self) -> str:
        """The provider new generations go to: fal when configured, else the simulator."""
        return "fal" if "fal" in self.providers else "simulator"
