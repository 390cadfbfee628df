"""The queries and mutations a WebSocket connection is running, each as its own task.

A query the client gives up on (its `complete`, or the socket closing) is cancelled. A mutation
is never cut off midway: its changes may span transactions and the provider (a cancellation
commits a refund, then stops fal), so it runs to its end and only its result is dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)

# Mutations still finishing for connections that are gone: referenced so they are not collected.
_finishing: set[asyncio.Task[None]] = set()


class RunningOperations:
    __slots__ = ("_mutations", "_tasks")

    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._mutations: set[asyncio.Task[None]] = set()

    def __contains__(self, op_id: str) -> bool:
        return op_id in self._tasks

    def __len__(self) -> int:
        return len(self._tasks)

    def start(self, op_id: str, work: Coroutine[Any, Any, None], *, mutation: bool) -> None:
        task = asyncio.create_task(work)
        self._tasks[op_id] = task
        if mutation:
            self._mutations.add(task)
        task.add_done_callback(lambda done: self._finished(op_id, done))

    def wanted(self, op_id: str) -> bool:
        """Whether the running task of `op_id` still owes the client its result."""
        return self._tasks.get(op_id) is asyncio.current_task()

    def forget(self, op_id: str) -> None:
        """The client no longer wants `op_id`'s result: its id is free at once."""
        self._let_go(self._tasks.pop(op_id))

    def close(self) -> None:
        """The connection is gone: cancel its queries, let its mutations finish unseen."""
        for task in self._tasks.values():
            self._let_go(task)
        self._tasks.clear()

    def _let_go(self, task: asyncio.Task[None]) -> None:
        if task in self._mutations:
            _finishing.add(task)
            task.add_done_callback(_finishing.discard)
        else:
            task.cancel()

    def _finished(self, op_id: str, task: asyncio.Task[None]) -> None:
        self._mutations.discard(task)
        if self._tasks.get(op_id) is task:
            del self._tasks[op_id]
        if not task.cancelled() and task.exception() is not None:
            log.error("a WebSocket operation failed", exc_info=task.exception())
