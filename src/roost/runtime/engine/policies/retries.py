"""Retries: run an action up to ``count + 1`` times, waiting the strategy's backoff in between."""

from __future__ import annotations

import asyncio
from typing import Any

from roost.errors import DeadlineExceededError, NonRecoverableError
from roost.runtime.engine.actions import ActionRun
from roost.runtime.engine.policies import Next
from roost.store.records import ActionPhase


def retryable(error: BaseException) -> bool:
    """A NonRecoverableError stops at once; so does a deadline, which spans all attempts."""
    return not isinstance(error, (NonRecoverableError, DeadlineExceededError))


class Retries:
    async def __call__(self, action: ActionRun, call_next: Next) -> Any:
        strategy = action.spec.retries
        attempts = strategy.count + 1
        recorder = action.recorder
        for n in range(attempts):
            if n:
                action.reset_calls()
            action.attempt = n
            try:
                return await call_next(action)
            except Exception as e:
                recorder.record_attempt_failure(action, e)
                if n + 1 >= attempts or not retryable(e):
                    raise
                delay = strategy.delay_before_retry(n + 1)
                recorder.set_phase(action, ActionPhase.QUEUED)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover
