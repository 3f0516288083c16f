"""ActionRun: one action while its run is live -- its record, its task, its place in the tree."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from roost.core.task_spec import TaskSpec
from roost.runtime.context import TaskContext, make_task_context
from roost.runtime.messages import ActionContext
from roost.store.config import StoreConfig
from roost.store.records import ActionRecord
from roost.task import TaskTemplate

if TYPE_CHECKING:
    from roost.runtime.controller import RunController


class ActionRun:
    """The live state of an action. Its ``record`` is what the store writes; the rest is runtime only."""

    __slots__ = (
        "_context",
        "_seq",
        "_seq_lock",
        "attempt",
        "attempt_started",
        "controller",
        "custom",
        "grant",
        "inputs",
        "limits",
        "parent",
        "record",
        "reusable_inputs",
        "spec",
        "task",
    )

    def __init__(
        self,
        controller: RunController,
        record: ActionRecord,
        task: TaskTemplate[Any],
        spec: TaskSpec,
        inputs: dict[str, Any],
        parent: ActionRun | None,
        custom: dict[str, str],
    ):
        self.controller = controller
        self.record = record
        self.task = task
        self.spec = spec
        self.inputs = inputs
        self.parent = parent
        self.custom = custom
        self.attempt = 0
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
        return (self.controller.store_config, f"{self.controller.run_name}/{self.id}")

    def task_context(self) -> TaskContext:
        if self._context is None:
            c = self.controller
            version = c.cache_version(self.task, self.spec)
            self._context = make_task_context(c.run_facts, self.id, self.attempt, self.custom, version, self.record)
        return self._context

    def wire_context(self) -> ActionContext:
        """What a worker needs to rebuild this action's context (the run's part travels alongside)."""
        c = self.controller
        return ActionContext(
            self.id, self.attempt, self.custom, c.cache_version(self.task, self.spec), c.run_facts_wire
        )
