"""Which dependencies are failing and why: a registry that /ready reads, and background probes
that retry a failing dependency with capped, jittered backoff until it is back.

A dependency reports through any object with `name`, `blocking`, `state` and `reason` (the
`Reported` protocol): a `Dependency` that probes or callers update, or a view computed when read
(the provider's circuit). Probes never block start-up for long: the process starts, serves, and
says in /ready what is missing until it comes back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Literal, Protocol

from velro_graphql.backoff import backoff_delay
from velro_graphql.providers.base import Provider

log = logging.getLogger(__name__)

State = Literal["up", "down", "misconfigured"]
Probe = Callable[[], Awaitable[None]]
# A probe that has not answered by then counts as a failure (start-up waits at most this long).
PROBE_TIMEOUT_SECONDS = 5.0
_FIRST_RETRY_SECONDS = 1.0


class Unavailable(Exception):
    """A dependency cannot be used now; `misconfigured` when retrying soon cannot help."""

    def __init__(self, reason: str, *, misconfigured: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.misconfigured = misconfigured


class Reported(Protocol):
    """What /ready reads of one dependency; `blocking` ones make the process unready."""

    @property
    def name(self) -> str: ...
    @property
    def blocking(self) -> bool: ...
    @property
    def state(self) -> State: ...
    @property
    def reason(self) -> str | None: ...


@dataclass
class Dependency:
    """One dependency's last known state, logged when it changes (not on every attempt)."""

    name: str
    blocking: bool = True
    state: State = "up"
    reason: str | None = None

    def up(self) -> None:
        if self.state != "up":
            log.info("%s is back", self.name)
        self.state, self.reason = "up", None

    def fail(self, reason: str, *, misconfigured: bool = False) -> None:
        state: State = "misconfigured" if misconfigured else "down"
        if state != self.state:
            log.warning("%s is %s: %s", self.name, state, reason)
        self.state, self.reason = state, reason


@dataclass(frozen=True)
class Backoff:
    """How often to probe: steadily while up, backing off while down, rarely if misconfigured."""

    check_seconds: float = 15.0
    retry_max_seconds: float = 30.0
    misconfigured_seconds: float = 300.0

    def delay(self, dependency: Dependency, failures: int) -> float:
        if dependency.state == "misconfigured":
            base = self.misconfigured_seconds
        elif failures == 0:
            base = self.check_seconds
        else:
            first = min(_FIRST_RETRY_SECONDS, self.retry_max_seconds)
            return backoff_delay(failures, first=first, cap=self.retry_max_seconds)
        return backoff_delay(1, first=base, cap=base)  # the jitter alone: no doubling


@dataclass(frozen=True)
class ProviderCircuit:
    """The default provider's circuit breaker, read when /ready asks."""

    provider: Provider
    name: str = "provider"
    blocking: bool = True

    @property
    def state(self) -> State:
        return "down" if self.provider.health().get("circuit") == "open" else "up"

    @property
    def reason(self) -> str | None:
        if self.state == "up":
            return None
        return (
            f"{self.provider.name}'s circuit breaker is open after repeated failures;"
            " calls pause for a cool-down, then one probe call decides"
        )


class Readiness:
    """The registry of dependencies, and the background probes that keep theirs up to date."""

    def __init__(self, backoff: Backoff) -> None:
        self._backoff = backoff
        self._reported: dict[str, Reported] = {}
        self._probes: set[asyncio.Task[None]] = set()
        self._closed = False

    def add(self, reported: Reported) -> None:
        self._reported[reported.name] = reported

    def failing(self) -> list[Reported]:
        return [r for r in self._reported.values() if r.state != "up"]

    async def watch(self, dependency: Dependency, probe: Probe) -> None:
        """Register `dependency`, probe it once now (briefly), then keep probing it."""
        self.add(dependency)
        failures = await _attempt(dependency, probe, failures=0)
        task = asyncio.create_task(self._keep_probing(dependency, probe, failures))
        self._probes.add(task)
        task.add_done_callback(self._probes.discard)

    async def _keep_probing(self, dependency: Dependency, probe: Probe, failures: int) -> None:
        # Checked as well as cancelled: a client library that swallows CancelledError (limits'
        # Redis check has a bare `except:`) must not keep its probe alive.
        while not self._closed:
            await asyncio.sleep(self._backoff.delay(dependency, failures))
            failures = await _attempt(dependency, probe, failures=failures)

    async def close(self) -> None:
        self._closed = True
        for task in self._probes:
            task.cancel()
        await asyncio.gather(*self._probes, return_exceptions=True)


@asynccontextmanager
async def open_readiness(backoff: Backoff) -> AsyncIterator[Readiness]:
    readiness = Readiness(backoff)
    try:
        yield readiness
    finally:
        await readiness.close()


async def _attempt(dependency: Dependency, probe: Probe, *, failures: int) -> int:
    """Probe once and record the outcome; return the count of consecutive failures."""
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_SECONDS):
            await probe()
    except Unavailable as error:
        dependency.fail(error.reason, misconfigured=error.misconfigured)
    except TimeoutError:
        dependency.fail(f"no answer within {PROBE_TIMEOUT_SECONDS:g} s")
    except Exception as error:  # a probe's bug must not end the probing
        log.exception("probing %s failed", dependency.name)
        dependency.fail(f"probe failed: {error!r}")
    else:
        dependency.up()
        return 0
    return failures + 1
