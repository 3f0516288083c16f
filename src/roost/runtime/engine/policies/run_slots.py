"""Admission: an attempt starts only when the run has room for it, and gives up after
``Timeout.max_queued_time`` of waiting."""

from __future__ import annotations

import asyncio
from typing import Any

from roost.errors import MaxQueuedTimeExceededError
from roost.runtime.engine.actions import ActionRun
from roost.runtime.engine.policies import Next
from roost.spec.timeouts import seconds


class Admission:
    """Bounds the attempts running at once in a run (``max_action_concurrency``).

    A parent keeps its slot while it waits for its children, which is why the platform refuses a
    limit of 1 -- but not while it waits for a condition's answer, which may take days: it lends its
    slot meanwhile (``lend`` / ``reclaim``).
    """

    def __init__(self, max_running: int):
        self._max = max_running
        self._slots = asyncio.Semaphore(max_running)

    async def __call__(self, action: ActionRun, call_next: Next) -> Any:
        timeout = action.spec.timeout
        limit = seconds(timeout.max_queued_time) if timeout is not None else None
        try:
            await asyncio.wait_for(self._slots.acquire(), limit)
        except asyncio.TimeoutError:
            raise MaxQueuedTimeExceededError(
                f"{action.task.name} waited more than its max_queued_time of {limit:g} s to start "
                f"(the run allows {self._max} running actions)"
            ) from None
        try:
            return await call_next(action)
        finally:
            self._slots.release()

    def lend(self) -> None:
        """The caller's action waits for someone else's answer: its slot serves others meanwhile."""
        self._slots.release()

    async def reclaim(self) -> None:
        """The answer came: the action takes a slot again before it goes on."""
        await self._slots.acquire()
