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
        self._traces: dict[str, dict[str, tuple[str, bytes]]] | None = None

    def traces_under(self, parent_id: str) -> dict[str, tuple[str, bytes]]:
        """The traced calls of an action that the recovered run finished: id -> (name, outputs).
        A worker answers its traced calls from these without asking (tracing.py)."""
        if self._traces is None:
            self._traces = {}
            for record in self._succeeded.values():
                if record.isolation == "trace" and record.outputs is not None and record.parent_id is not None:
                    self._traces.setdefault(record.parent_id, {})[record.action_id] = (
                        record.task_name,
                        record.outputs,
                    )
        return self._traces.get(parent_id, {})

    def previous(self, action_id: str, task_name: str) -> ActionRecord | None:
        """The recovered run's successful record of this action, when it has outputs to reuse."""
        previous = self._succeeded.get(action_id)
        if previous is None or previous.outputs is None or previous.task_name != task_name:
            return None
        return previous

    async def __call__(self, action: ActionRun, call_next: Next) -> Any:
        previous = self.previous(action.id, action.record.task_name)
        if previous is None:
            return await call_next(action)
        record = action.record
        record.outputs = previous.outputs
        record.attempts = previous.attempts
        record.started_at = previous.started_at
        action.controller.finish(action, ActionPhase.RECOVERED)
        return action.controller.output_value(action)
