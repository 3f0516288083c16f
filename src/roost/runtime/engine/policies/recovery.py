"""Recovery: a rerun with ``recover=True`` reuses the outputs of actions that already succeeded."""

from __future__ import annotations

from typing import Any

from roost.runtime.engine.actions import ActionRun
from roost.runtime.engine.policies import Next
from roost.store.records import ActionPhase, ActionRecord


class Recovery:
    """Answers an action from the run it recovers, when that run holds it as succeeded.

    Action ids are deterministic (parent, inputs, task, call position), so the same call in the
    rerun has the same id as in the original run. The root's id is always the same, whatever its
    inputs, so an action is answered only when its inputs are the ones recorded too: a recovery with
    new inputs runs the root again, and with it every child whose inputs change.
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

    def previous(
        self, action_id: str, task_name: str, inputs_hash: str | None, inputs: bytes | None
    ) -> ActionRecord | None:
        """The recovered run's successful record of this action, when it has outputs to reuse for
        these inputs."""
        previous = self._succeeded.get(action_id)
        if previous is None or previous.outputs is None or previous.task_name != task_name:
            return None
        if previous.inputs_hash is not None and inputs_hash is not None:
            same = previous.inputs_hash == inputs_hash
        else:  # a record without a hash: compare what was stored
            same = previous.inputs == inputs
        return previous if same else None

    async def __call__(self, action: ActionRun, call_next: Next) -> Any:
        record = action.record
        previous = self.previous(action.id, record.task_name, record.inputs_hash, record.inputs)
        if previous is None:
            return await call_next(action)
        record.outputs = previous.outputs
        record.attempts = previous.attempts
        record.started_at = previous.started_at
        action.recorder.finish(action, ActionPhase.RECOVERED)
        return action.recorder.output_value(action)
