"""Run and Action handles: what ``flyte.run`` returns, read back from the run store."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from roost.errors import ActionNotFoundError, RuntimeUserError, error_class_for
from roost.runtime import values
from roost.runtime.report import read_page, report_location
from roost.runtime.syncify import dual, syncify
from roost.store.records import ActionPhase, ActionRecord, AttemptRecord, ErrorInfo, LogRecord, RunRecord
from roost.store.run_store import RunStore
from roost.task import TaskTemplate


class ActionOutputs(tuple):  # type: ignore[type-arg]
    """A task's outputs as a tuple; also ``o0, o1, ...`` (or the NamedTuple's field names) as attributes.

    A task without outputs gives ``(None,)``.
    """

    named_outputs: dict[str, Any]

    def __new__(cls, items: tuple[Any, ...], names: list[str]) -> ActionOutputs:
        self = super().__new__(cls, items)
        self.named_outputs = dict(zip(names, items))
        return self

    def __getattr__(self, name: str) -> Any:
        try:
            return self.named_outputs[name]
        except KeyError:
            raise AttributeError(name) from None


class ActionInputs(dict):  # type: ignore[type-arg]
    """A task's inputs by name."""


def _outputs(task: TaskTemplate[Any] | None, data: bytes | None, preserve_original_types: bool = True) -> ActionOutputs:
    value = values.decode_outputs(task, data, preserve_original_types) if data is not None else None
    if task is not None:
        names = list(task.interface.outputs)
        several = len(names) > 1
    else:  # read back without the task's code: a tuple is taken as several outputs
        several = isinstance(value, tuple)
        names = [f"o{i}" for i in range(len(value))] if several else ["o0"]
    items = tuple(value) if several else (value,)
    return ActionOutputs(items, names or ["o0"])


def raise_error(error: ErrorInfo) -> None:
    """Re-raise a recorded failure as the exception a caller of the task would have seen."""
    cls = error_class_for(error.code, error.kind)  # type: ignore[arg-type]
    try:
        err = cls(error.code, error.message)  # type: ignore[call-arg]
    except TypeError:
        err = cls(error.message)  # type: ignore[call-arg]
    err.traceback_text = error.traceback  # type: ignore[attr-defined]
    raise err


@dataclass
class ActionDetails:
    """One action as recorded: phase, times, attempts, error."""

    record: ActionRecord
    attempts_: list[AttemptRecord]

    @property
    def phase(self) -> ActionPhase:
        return self.record.phase

    @property
    def attempts(self) -> int:
        return self.record.attempts

    @property
    def runtime(self) -> float | None:
        r = self.record
        return None if r.started_at is None else (r.ended_at or time.time()) - r.started_at

    @property
    def error_info(self) -> ErrorInfo | None:
        return self.record.error

    @property
    def error_message(self) -> str | None:
        return self.record.error.message if self.record.error else None

    @property
    def phase_durations(self) -> dict[str, float]:
        r = self.record
        out: dict[str, float] = {}
        if r.queued_at is not None and r.started_at is not None:
            out["queued"] = r.started_at - r.queued_at
        if r.started_at is not None and r.ended_at is not None:
            out["running"] = r.ended_at - r.started_at
        return out

    def get_attempts(self) -> list[AttemptRecord]:
        return list(self.attempts_)


class Action:
    """A handle on one recorded action of a run."""

    def __init__(self, store: RunStore, record: ActionRecord, task: TaskTemplate[Any] | None = None):
        self._store = store
        self._record = record
        self._task = task

    @property
    def name(self) -> str:
        return self._record.action_id

    action_id = name

    @property
    def run_name(self) -> str:
        return self._record.run_name

    @property
    def task_name(self) -> str:
        return self._record.task_name

    @property
    def parent_name(self) -> str | None:
        return self._record.parent_id

    @property
    def phase(self) -> ActionPhase:
        return self._record.phase

    raw_phase = phase

    @property
    def start_time(self) -> float | None:
        return self._record.started_at

    def done(self) -> bool:
        return self._record.phase.is_terminal

    def details(self) -> ActionDetails:
        return ActionDetails(self._record, self._store.list_attempts(self.run_name, self.name))

    def inputs(self) -> ActionInputs:
        data = self._record.inputs
        return ActionInputs(values.decode_inputs(self._task, data) if data else {})  # type: ignore[arg-type]

    def outputs(self) -> ActionOutputs:
        if self._record.phase not in (ActionPhase.SUCCEEDED, ActionPhase.RECOVERED):
            raise RuntimeUserError("ActionNotSucceeded", f"action {self.name} is {self._record.phase.value}")
        return _outputs(self._task if self._record.parent_id is None else None, self._record.outputs)

    def get_logs(self) -> list[LogRecord]:
        return self._store.list_logs(self.run_name, self.name)

    def report_location(self) -> str | None:
        """Where this action's ``report.html`` is (or would be) written; None if the run is unknown."""
        run = self._store.get_run(self.run_name)
        if run is None:
            return None
        base = json.loads(run.options or "{}").get("run_base_dir")
        return report_location(f"{base}/{self.name}") if base else None

    def _get_report(self, attempt: int | None = None) -> str | None:
        location = self.report_location()
        return read_page(location) if location is not None else None

    async def _get_report_aio(self, attempt: int | None = None) -> str | None:
        return await asyncio.to_thread(self._get_report, attempt)

    # The HTML of the action's report, or None when none was written. An action keeps one report: the
    # page last written by any of its attempts, so ``attempt`` (Flyte keeps one per attempt) is accepted
    # and does not select.
    get_report = dual(_get_report, _get_report_aio)

    def __repr__(self) -> str:
        return f"<Action {self.run_name}/{self.name} {self.task_name} {self.phase.value}>"


class Run:
    """A handle on a run: its name and phase, its inputs and outputs, and its action tree.

    Unlike Flyte's local-mode Run, every member works: the run is recorded in the run store.
    """

    def __init__(
        self, store: RunStore, name: str, task: TaskTemplate[Any] | None = None, preserve_original_types: bool = True
    ):
        self._store = store
        self.name = name
        self._task = task
        # False (with_runcontext's default outside mode="local"): DataFrame outputs as flyte.io.DataFrame.
        self._preserve_original_types = preserve_original_types

    @classmethod
    def get(cls, name: str) -> Run:
        """The run named ``name`` from the run store of ROOST_HOME."""
        from roost.runtime.runner import get_store

        run = cls(get_store(), name)
        run._record()
        return run

    @classmethod
    def listall(cls, in_phase: str | None = None, task_name: str | None = None, limit: int = 100) -> list[Run]:
        from roost.runtime.runner import get_store

        store = get_store()
        return [cls(store, r.name) for r in store.list_runs(limit=limit, phase=in_phase, task_name=task_name)]

    def _record(self) -> RunRecord:
        record = self._store.get_run(self.name)
        if record is None:
            raise ActionNotFoundError(f"no run named {self.name!r} in {self._store.path}")
        return record

    @property
    def phase(self) -> ActionPhase:
        return self._record().phase

    raw_phase = phase

    @property
    def url(self) -> str:
        options = json.loads(self._record().options or "{}")
        return options.get("run_base_dir", str(self._store.path))

    @property
    def action(self) -> Action:
        return self.get_action("a0")

    def get_action(self, action_id: str) -> Action:
        record = self._store.get_action(self.name, action_id)
        if record is None:
            raise ActionNotFoundError(f"run {self.name!r} has no action {action_id!r}")
        return Action(self._store, record, self._task)

    def actions(self) -> list[Action]:
        return [Action(self._store, r, self._task) for r in self._store.list_actions(self.name)]

    def done(self) -> bool:
        return self.phase.is_terminal

    @syncify
    async def wait(self, quiet: bool = False, wait_for: str = "terminal", poll: float = 0.1) -> Run:
        target = (lambda p: p.is_terminal) if wait_for == "terminal" else (lambda p: p is not ActionPhase.QUEUED)
        while not target(self.phase):
            await asyncio.sleep(poll)
        return self

    @syncify
    async def outputs(self) -> ActionOutputs:
        record = self._record()
        if record.phase not in (ActionPhase.SUCCEEDED, ActionPhase.RECOVERED):
            if record.error is not None:
                raise_error(record.error)
            raise RuntimeUserError("RunNotDoneError", f"run {self.name} is {record.phase.value}")
        return _outputs(self._task, record.outputs, self._preserve_original_types)

    def inputs(self) -> ActionInputs:
        data = self._record().inputs
        return ActionInputs(values.decode_inputs(self._task, data) if data else {})  # type: ignore[arg-type]

    def details(self) -> RunDetails:
        return RunDetails(self._record(), self.actions())

    def first_failure(self) -> Action | None:
        failed = [a for a in self.actions() if a.phase in (ActionPhase.FAILED, ActionPhase.TIMED_OUT)]
        return max(failed, key=lambda a: a._record.seq) if failed else None

    def raise_for_status(self) -> None:
        record = self._record()
        if not record.phase.is_terminal:
            raise RuntimeUserError("RunNotDoneError", f"run {self.name} is still {record.phase.value}")
        if record.error is not None:
            raise_error(record.error)

    def abort(self, reason: str = "") -> None:
        self._store.request_abort(self.name)

    def get_logs(self) -> list[LogRecord]:
        return self._store.list_logs(self.name)

    def show_logs(self) -> None:
        for line in self.get_logs():
            print(f"[{line.action_id}] {line.line}")

    def _get_report(self, attempt: int | None = None) -> str | None:
        return self.action.get_report(attempt)  # type: ignore[no-any-return]

    async def _get_report_aio(self, attempt: int | None = None) -> str | None:
        return await self.action.get_report.aio(attempt)  # type: ignore[no-any-return]

    # The HTML of the root action's report, or None (see ``Action.get_report``).
    get_report = dual(_get_report, _get_report_aio)

    def __repr__(self) -> str:
        return f"<Run {self.name} {self.phase.value}>"


@dataclass
class RunDetails:
    record: RunRecord
    action_list: list[Action]

    @property
    def phase(self) -> ActionPhase:
        return self.record.phase

    def __iter__(self) -> Iterator[Action]:
        return iter(self.action_list)
