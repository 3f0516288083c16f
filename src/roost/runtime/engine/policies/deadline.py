"""Deadline: the whole action, across all its attempts, must end within ``Timeout.deadline``."""

from __future__ import annotations

import asyncio
from typing import Any

from roost.errors import DeadlineExceededError
from roost.runtime.engine.actions import ActionRun
from roost.runtime.engine.policies import Next
from roost.spec.timeouts import seconds


class Deadline:
    async def __call__(self, action: ActionRun, call_next: Next) -> Any:
        timeout = action.spec.timeout
        limit = seconds(timeout.deadline) if timeout is not None else None
        if limit is None:
            return await call_next(action)
        try:
            return await asyncio.wait_for(call_next(action), limit)
        except asyncio.TimeoutError:
            raise DeadlineExceededError(
                f"{action.task.name} exceeded its deadline of {limit:g} s (across {action.attempt + 1} attempt(s))"
            ) from None
