"""A circuit breaker for calls to one provider.

Written here rather than taken from `purgatory` or `aiobreaker`: purgatory's half-open state
lets every concurrent call through, reads the wall clock, raises one shared exception
instance and keeps its state behind async repository calls (readiness reads it synchronously);
aiobreaker has not been released since 2021. Everything here runs on one event loop with no
awaits inside a state change, so it needs no lock.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Literal

from velro_graphql.providers.base import RejectedByProvider, TransientProviderError

CircuitState = Literal["closed", "open", "half_open"]


class CircuitOpen(TransientProviderError):
    """The provider failed repeatedly; calls are refused until the cool-down ends."""


class CircuitBreaker:
    """Opens after `failure_threshold` consecutive transient failures, stays open for
    `cool_down` seconds, then lets one probe call through: its success closes the circuit,
    its transient failure opens it again."""

    def __init__(
        self,
        *,
        failure_threshold: int = 5,
        cool_down: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failure_threshold = failure_threshold
        self.cool_down = cool_down
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> CircuitState:
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at < self.cool_down:
            return "open"
        return "half_open"

    @contextmanager
    def guard(self) -> Iterator[None]:
        """Run one call under the breaker, or raise `CircuitOpen` without running it."""
        probe = self._admit()
        try:
            yield
        except TransientProviderError:
            self._record_failure()
            raise
        except RejectedByProvider:
            self._record_success()
            raise
        else:
            self._record_success()
        finally:
            if probe:
                self._probing = False

    def _admit(self) -> bool:
        state = self.state
        if state == "closed":
            return False
        if state == "open" or self._probing:
            raise CircuitOpen("the provider is failing; calls are paused for a cool-down")
        self._probing = True
        return True

    def _record_failure(self) -> None:
        self._failures += 1
        if self._opened_at is not None or self._failures >= self.failure_threshold:
            self._opened_at = self._clock()

    def _record_success(self) -> None:
        self._failures = 0
        self._opened_at = None
