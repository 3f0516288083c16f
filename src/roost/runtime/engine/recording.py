"""RunRecorder: how a run's actions are recorded -- each phase change, the end of each action and of
each failed attempt -- and what a finished action gives its caller back.

The controller and its policies record through it; nothing else writes an action's record.
"""

from __future__ import annotations

import json
import time
import traceback
from typing import Any, Protocol

from roost.core.task_spec import TaskSpec
from roost.errors import ActionAbortedError, BaseRuntimeError, TaskTimeoutError
from roost.runtime import values
from roost.runtime.engine.environment_record import environment_text
from roost.store.records import ActionPhase, ActionRecord, AttemptRecord, ErrorInfo
from roost.store.run_store import RunStore
from roost.task import TaskTemplate


class ActionRun(Protocol):
    """What the recorder reads and sets of a live action (actions.ActionRun)."""

    record: ActionRecord
    task: TaskTemplate[Any]
    spec: TaskSpec
    attempt: int
    attempt_started: float | None
    limits: dict[str, Any] | None

    @property
    def id(self) -> str: ...


def error_info(e: BaseException) -> ErrorInfo:
    """What is recorded of a failure: the user's class name as code, the message, the traceback."""
    if isinstance(e, BaseRuntimeError):
        text = getattr(e, "traceback_text", None) or "".join(traceback.format_exception(e))
        return ErrorInfo(e.code, e.kind, e.message, text)
    return ErrorInfo(type(e).__name__, "user", str(e), "".join(traceback.format_exception(e)))


def failure_phase(e: BaseException) -> ActionPhase:
    if isinstance(e, TaskTimeoutError):
        return ActionPhase.TIMED_OUT
    if isinstance(e, ActionAbortedError):
        return ActionPhase.ABORTED
    return ActionPhase.FAILED


class RunRecorder:
    """Records one run's actions in its store (the store batches the writes: group commit)."""

    __slots__ = ("_environments", "run_env_names", "run_name", "store")

    def __init__(self, store: RunStore, run_name: str, run_env_names: tuple[str, ...] = ()):
        self.store = store
        self.run_name = run_name
        self.run_env_names = run_env_names  # the variables the run adds to every action: names only
        # Per task spec (held, so its id is not reused): the environment its actions record.
        self._environments: dict[int, tuple[TaskSpec, str]] = {}

    def environment(self, action: ActionRun) -> str:
        """What the action runs with (``environment_record``), names only; the cores and GPUs granted
        to it by the machine, when it was granted some."""
        spec = action.spec
        known = self._environments.get(id(spec))
        if known is None or known[0] is not spec:
            known = self._environments[id(spec)] = (spec, environment_text(spec, self.run_env_names))
        if not action.limits:
            return known[1]
        return known[1][:-1] + ',"granted":' + json.dumps(action.limits, separators=(",", ":")) + "}"

    def set_phase(self, action: ActionRun, phase: ActionPhase) -> None:
        record = action.record
        record.phase = phase
        now = time.time()
        if phase is ActionPhase.RUNNING:
            record.attempts = action.attempt + 1
            action.attempt_started = now
            if record.environment is None:
                record.environment = self.environment(action)
            if record.started_at is None:
                record.started_at = now
        if phase is not ActionPhase.RUNNING or action.attempt or record.transitions is not None:
            # Dated here only: the record's own times date the first attempt's queueing and its first
            # start; once another phase came between them, every phase is dated here. Requeued for a
            # retry, the action is in the queue of its next attempt.
            attempt = action.attempt + 1 if phase is ActionPhase.QUEUED else action.attempt
            record.transitions = f"{record.transitions or ''}{attempt}:{phase.value}:{now!r};"
        self.store.mark(record)

    def finish(self, action: ActionRun, phase: ActionPhase) -> None:
        record = action.record
        record.phase = phase
        record.ended_at = time.time()
        if phase is not ActionPhase.RECOVERED and record.attempts == 0:
            record.attempts = action.attempt + 1
        self.store.mark(record)
        if phase is ActionPhase.SUCCEEDED and action.attempt:
            # After failed attempts, the attempts table also shows the one that succeeded.
            self.store.mark(
                AttemptRecord(self.run_name, action.id, action.attempt, phase, action.attempt_started, record.ended_at)
            )

    def record_attempt_failure(self, action: ActionRun, e: BaseException) -> None:
        attempt = AttemptRecord(
            run_name=self.run_name,
            action_id=action.id,
            attempt=action.attempt,
            phase=failure_phase(e),
            started_at=action.attempt_started,
            ended_at=time.time(),
            error=error_info(e),
        )
        self.store.mark(attempt)

    def output_value(self, action: ActionRun) -> Any:
        """The caller receives the outputs as they were stored, as if they had crossed a process."""
        return values.decode_outputs(action.task, action.record.outputs)  # type: ignore[arg-type]
