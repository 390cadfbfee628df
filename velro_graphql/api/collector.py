"""Garbage collection for a process that holds thousands of WebSockets.

A full collection walks every tracked object: with 10,000 subscribers connected that is a
pause of about a second (timed with `gc.callbacks`), felt by every subscriber at once and the
whole p99 of a fan-out run. Objects that survived a full collection are long-lived (the
connections, their feeds), so after each one they are frozen, and later full collections walk
only what is new. A frozen object is never collected, even once it is cyclic garbage, so every
`thaw_seconds` the frozen set goes back to the collector: one long pause then, not each time.
"""

from __future__ import annotations

import gc
import time
from typing import Any


class FreezeSurvivors:
    """A `gc.callbacks` entry; `install()` adds it, `remove()` takes it away."""

    def __init__(self, thaw_seconds: float = 3600) -> None:
        self.thaw_seconds = thaw_seconds
        self._thawed_at = time.monotonic()

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase != "stop" or info["generation"] != 2:
            return
        if time.monotonic() - self._thawed_at >= self.thaw_seconds:
            gc.unfreeze()  # the next full collection walks (and frees) all of it again
            self._thawed_at = time.monotonic()
            return
        gc.freeze()

    def install(self) -> None:
        gc.freeze()  # what start-up built
        gc.callbacks.append(self)

    def remove(self) -> None:
        if self in gc.callbacks:
            gc.callbacks.remove(self)
