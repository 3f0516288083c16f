"""What the run store holds: runs, actions, attempts, log lines and cache entries, and the phases they pass
through."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any


class ActionPhase(str, enum.Enum):
    """The phase of a run or action (``flyte.models.ActionPhase``)."""

    QUEUED = "queued"
    WAITING_FOR_RESOURCES = "waiting_for_resources"
    INITIALIZING = "initializing"
    RUNNING = "running"
    PAUSED = "paused"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ABORTED = "aborted"
    TIMED_OUT = "timed_out"
    RECOVERED = "recovered"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL

    def __str__(self) -> str:
        return self.value


_TERMINAL = frozenset(
    {ActionPhase.SUCCEEDED, ActionPhase.FAILED, ActionPhase.ABORTED, ActionPhase.TIMED_OUT, ActionPhase.RECOVERED}
)


@dataclass
class ErrorInfo:
    """A failure as recorded: never the exception object, only what can be shown and rebuilt."""

    code: str
    kind: str
    message: str
    traceback: str | None = None


@dataclass
class RunRecord:
    name: str
    task_name: str
    phase: ActionPhase
    mode: str
    created_at: float
    started_at: float | None = None
    ended_at: float | None = None
    inputs: bytes | None = None
    outputs: bytes | None = None
    error: ErrorInfo | None = None
    pid: int | None = None
    host: str | None = None
    heartbeat_at: float | None = None
    task_module: str | None = None
    task_function: str | None = None
    recovered_from: str | None = None
    abort_requested: bool = False
    options: str = "{}"


@dataclass
class ActionRecord:
    run_name: str
    action_id: str
    parent_id: str | None
    task_name: str
    short_name: str
    group_name: str | None
    seq: int
    phase: ActionPhase
    attempts: int = 0
    queued_at: float | None = None
    started_at: float | None = None
    ended_at: float | None = None
    inputs: bytes | None = None
    outputs: bytes | None = None
    inputs_hash: str | None = None
    error: ErrorInfo | None = None
    cache_hit: bool = False
    isolation: str | None = None
    isolation_reason: str | None = None
    node: str | None = None
    # Phases entered that the times above do not date, as "attempt:phase:time;" entries (attempt
    # counted from 0): waiting for resources, initializing, what follows them, and every phase of a
    # retry. None for the common action, queued once and run once (``runtime/transitions.py``).
    transitions: str | None = None
    # What the action ran with, as JSON set when its first attempt starts: the image, resources and
    # limits, and the NAMES of its variables and secrets -- never their values (``environment_record``).
    environment: str | None = None

    def summary(self) -> dict[str, Any]:
        """What every listing of an action shows of it (``roost get`` JSON, the console's tree), as JSON
        values: no inputs, outputs, error or environment."""
        return {
            "id": self.action_id,
            "parent": self.parent_id,
            "task": self.task_name,
            "group": self.group_name,
            "phase": self.phase.value,
            "attempts": self.attempts,
            "queued_at": self.queued_at,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "cache_hit": self.cache_hit,
            "isolation": self.isolation,
            "isolation_reason": self.isolation_reason,
            "node": self.node,
        }


@dataclass
class AttemptRecord:
    run_name: str
    action_id: str
    attempt: int
    phase: ActionPhase
    started_at: float | None
    ended_at: float | None
    error: ErrorInfo | None = None


@dataclass
class LogRecord:
    run_name: str
    action_id: str
    attempt: int
    ts: float
    stream: str
    line: str


@dataclass
class CacheEntry:
    """A stored task result that a later call with the same cache key may return without running."""

    key: str
    task_name: str
    version: str
    outputs: bytes
    created_at: float
    run_name: str | None = None
    action_id: str | None = None


@dataclass
class CacheReservation:
    """Who is computing a serialized cache key right now, and when it last said it is alive."""

    key: str
    holder: str
    host: str
    pid: int
    acquired_at: float
    heartbeat_at: float


@dataclass
class ConditionRecord:
    """A condition an action waits on (``flyte.new_condition``): what it asks, and how it was answered.
    ``state`` is waiting, signalled, failed or timed_out; ``value`` is the answer as JSON."""

    run_name: str
    action_id: str
    parent_id: str
    name: str
    prompt: str
    prompt_type: str
    data_type: str
    description: str
    created_at: float
    timeout_at: float | None = None
    webhook: str | None = None  # JSON: {"url", "payload"}
    state: str = "waiting"
    value: str | None = None
    reason: str | None = None
    signalled_by: str | None = None
    signalled_at: float | None = None
