"""Recovery: a rerun with ``recover=True`` reuses the outputs of actions that already succeeded."""

from __future__ import annotations

from typing import Any

from roost.runtime.actions import ActionRun
from roost.runtime.policies import Next
from roost.store.records import ActionPhase, ActionRecord


class Recovery:
    """Answers an action from the run it recovers, when that run holds it as succeeded.

    Action ids are deterministic (parent, inputs, task, call position), so the same call in the
    rerun has the same id as in the original run.
    """

    def __init__(self, succeeded: dict[str, ActionRecord]):
        self._succeeded = succeeded

    async def __call__(self, action: ActionRun, call_next: Next) -> Any:
        previous = self._succeeded.get(action.id)
        if previous is None or previous.outputs is None or previous.task_name != action.record.task_name:
            return await call_next(action)
        record = action.record
        record.outputs = previous.outputs
        record.attempts = previous.attempts
        record.started_at = previous.started_at
        action.controller.finish(action, ActionPhase.RECOVERED)
        return action.controller.output_value(action)
