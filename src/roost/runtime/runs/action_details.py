"""What a recorded action holds, read back: its inputs, its outputs, and its details (phase, attempts,
the phases of each attempt and how long each took, its error) -- ``flyte.remote.ActionDetails``."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from roost.runtime import values
from roost.runtime.runs.transitions import PhaseTransitionInfo, attempt_transitions
from roost.store.records import ActionPhase, ActionRecord, AttemptRecord, ErrorInfo
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

    def __repr__(self) -> str:
        return f"ActionOutputs({', '.join(f'{k}={v!r}' for k, v in self.named_outputs.items())})"


class ActionInputs(dict):  # type: ignore[type-arg]
    """A task's inputs by name."""


def decode_outputs(
    task: TaskTemplate[Any] | None, data: bytes | None, preserve_original_types: bool = True
) -> ActionOutputs:
    value = values.decode_outputs(task, data, preserve_original_types) if data is not None else None
    if task is not None:
        names = list(task.interface.outputs)
        several = len(names) > 1
    else:  # read back without the task's code: a tuple is taken as several outputs
        several = isinstance(value, tuple)
        names = [f"o{i}" for i in range(len(value))] if several else ["o0"]
    items = tuple(value) if several else (value,)
    return ActionOutputs(items, names or ["o0"])


def decode_inputs(task: TaskTemplate[Any] | None, data: bytes | None) -> ActionInputs:
    return ActionInputs(values.decode_inputs(task, data) if data else {})  # type: ignore[arg-type]


@dataclass
class AbortInfo:
    """Why an action was aborted."""

    reason: str
    aborted_by: str | None = None


class RecordedAction:
    """What an ``Action`` handle and its ``ActionDetails`` both read straight off the stored record."""

    def _action_record(self) -> ActionRecord:
        raise NotImplementedError

    @property
    def name(self) -> str:
        return self._action_record().action_id

    @property
    def run_name(self) -> str:
        return self._action_record().run_name

    @property
    def task_name(self) -> str:
        return self._action_record().task_name

    @property
    def parent_name(self) -> str | None:
        return self._action_record().parent_id

    @property
    def phase(self) -> ActionPhase:
        return self._action_record().phase

    raw_phase = phase

    def done(self) -> bool:
        return self._action_record().phase.is_terminal


@dataclass
class ActionDetails(RecordedAction):
    """One action as recorded: phase, attempts and the phases of each, times, error, inputs and outputs.

    ``Action.details()`` gives it at once (the store is local); it can also be awaited, as Flyte's
    coroutine that fetches it is.
    """

    record: ActionRecord
    attempts_: list[AttemptRecord] = field(default_factory=list)
    task: TaskTemplate[Any] | None = None

    def __await__(self) -> Generator[Any, None, ActionDetails]:
        return self
        yield  # a generator: awaiting gives the details at once

    def _action_record(self) -> ActionRecord:
        return self.record

    # -- phase and time --------------------------------------------------------------------------
    @property
    def is_running(self) -> bool:
        return self.record.phase is ActionPhase.RUNNING

    @property
    def attempts(self) -> int:
        return self.record.attempts

    @property
    def runtime(self) -> timedelta:
        """From the first start (or the queueing, for an action that never ran) to the end, or now."""
        r = self.record
        start = r.started_at if r.started_at is not None else r.queued_at
        if start is None:
            return timedelta(0)
        end = r.ended_at if r.ended_at is not None else datetime.now(timezone.utc).timestamp()
        return timedelta(seconds=end - start)

    def get_phase_transitions(self, attempt: int | None = None) -> list[PhaseTransitionInfo]:
        """The phases attempt ``attempt`` (1 for the first; the latest by default) went through."""
        per_attempt = attempt_transitions(self.record, self.attempts_)
        n = len(per_attempt) if attempt is None else attempt
        return per_attempt[n - 1] if 1 <= n <= len(per_attempt) else []

    @property
    def phase_durations(self) -> dict[ActionPhase, timedelta]:
        """How long the latest attempt spent in each phase."""
        return {t.phase: t.duration for t in self.get_phase_transitions()}

    @property
    def queued_time(self) -> timedelta | None:
        return self.phase_durations.get(ActionPhase.QUEUED)

    @property
    def waiting_for_resources_time(self) -> timedelta | None:
        return self.phase_durations.get(ActionPhase.WAITING_FOR_RESOURCES)

    @property
    def initializing_time(self) -> timedelta | None:
        return self.phase_durations.get(ActionPhase.INITIALIZING)

    @property
    def running_time(self) -> timedelta | None:
        return self.phase_durations.get(ActionPhase.RUNNING)

    def logs_available(self, attempt: int | None = None) -> bool:
        """Whether attempt ``attempt`` (the latest by default) has started, and so may have written."""
        n = self.record.attempts if attempt is None else attempt
        return 1 <= n <= self.record.attempts and self.record.started_at is not None

    def get_attempts(self) -> list[AttemptRecord]:
        """The attempts table's rows of this action: each failed attempt, and the one that succeeded
        after them."""
        return list(self.attempts_)

    # -- outcome ---------------------------------------------------------------------------------
    @property
    def error_info(self) -> ErrorInfo | None:
        return self.record.error

    @property
    def error_message(self) -> str | None:
        return self.record.error.message if self.record.error else None

    @property
    def abort_info(self) -> AbortInfo | None:
        if self.record.phase is not ActionPhase.ABORTED:
            return None
        return AbortInfo(self.record.error.message if self.record.error else "aborted")

    async def inputs(self) -> ActionInputs:
        return decode_inputs(self.task, self.record.inputs)

    async def outputs(self) -> ActionOutputs:
        """The outputs; RuntimeError while the action has not succeeded."""
        if self.record.phase not in (ActionPhase.SUCCEEDED, ActionPhase.RECOVERED):
            raise RuntimeError(
                f"action {self.name} of run {self.run_name} is {self.record.phase.value}: it has no outputs"
            )
        return decode_outputs(self.task, self.record.outputs)
