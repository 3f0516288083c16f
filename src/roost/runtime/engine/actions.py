"""ActionRun: one action while its run is live -- its record, its task, its place in the tree."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from roost.core.task_spec import TaskSpec
from roost.runtime.engine.cache_key import task_version
from roost.runtime.engine.recording import RunRecorder
from roost.runtime.messages import ActionContext
from roost.runtime.task_api.task_context import RunFacts, TaskContext, make_task_context
from roost.store.records import ActionRecord
from roost.store.store_config import StoreConfig
from roost.task import TaskTemplate


@dataclass(frozen=True, slots=True)
class RunScope:
    """What every action of a run shares: the run's facts (also as they travel) and its store."""

    facts: RunFacts
    facts_wire: list[Any]
    store_config: StoreConfig
    run_name: str


class ActionRun:
    """The live state of an action. Its ``record`` is what the store writes; the rest is runtime only."""

    __slots__ = (
        "_context",
        "_seq",
        "_seq_lock",
        "attempt",
        "attempt_started",
        "custom",
        "grant",
        "limits",
        "parent",
        "record",
        "recorder",
        "reusable_inputs",
        "run",
        "spec",
        "task",
    )

    def __init__(
        self,
        run: RunScope,
        recorder: RunRecorder,
        record: ActionRecord,
        task: TaskTemplate[Any],
        spec: TaskSpec,
        parent: ActionRun | None,
        custom: dict[str, str],
    ):
        self.run = run
        self.recorder = recorder
        self.record = record
        self.task = task
        self.spec = spec
        self.parent = parent
        self.custom = custom
        self.attempt = 0
        # The inputs as the caller passed them, when they can be handed to an inline body as they are.
        self.reusable_inputs: dict[str, Any] | None = None
        # What the worker process applies to itself (granted CPUs, GPUs); set by admission.
        self.limits: dict[str, Any] | None = None
        self.grant: Any = None  # the machine resources this attempt holds (policies.resources.Grant)
        self.attempt_started: float | None = None
        self._seq: dict[tuple[str, str, str | None], int] | None = None
        self._seq_lock: threading.Lock | None = None
        self._context: TaskContext | None = None

    @property
    def id(self) -> str:
        return self.record.action_id

    def next_seq(self, task_name: str, inputs_hash: str, group: str | None) -> int:
        """The 1-based count of calls with these (task, inputs, group) made by this action's attempt.

        A sync task's code runs in a thread and may start threads of its own, hence the lock.
        """
        if self._seq_lock is None:
            self._seq_lock = threading.Lock()
            self._seq = {}
        key = (task_name, inputs_hash, group)
        with self._seq_lock:
            n = self._seq.get(key, 0) + 1  # type: ignore[union-attr]
            self._seq[key] = n  # type: ignore[index]
        return n

    def reset_calls(self) -> None:
        """A new attempt makes the same calls again, and they get the same ids."""
        self._seq = {} if self._seq is not None else None
        self._context = None

    def store_scope(self) -> tuple[StoreConfig, str]:
        """What File/Dir/DataFrame code inside this action sees: the run's store, this action's path."""
        return (self.run.store_config, f"{self.run.run_name}/{self.id}")

    def task_context(self) -> TaskContext:
        if self._context is None:
            version = task_version(self.task, self.spec)
            self._context = make_task_context(self.run.facts, self.id, self.attempt, self.custom, version, self.record)
        return self._context

    def wire_context(self) -> ActionContext:
        """What a worker needs to rebuild this action's context (the run's part travels alongside)."""
        version = task_version(self.task, self.spec)
        return ActionContext(self.id, self.attempt, self.custom, version, self.run.facts_wire)
