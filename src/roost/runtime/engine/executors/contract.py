"""The seam between the controller and the executors: one attempt in, its outputs out.

The controller resolves everything an attempt needs before an executor sees it -- into one frozen
``Attempt`` -- and hands it over with an ``AttemptReport``, the narrow way back: phase changes,
where the attempt runs, its output lines, its traced calls, the task calls its code makes, its
secrets (resolved only when an executor needs their values). An executor returns the attempt's
packed outputs, or raises what ended it. It never sees the controller, and never reads a
declaration other than the attempt's compiled task spec.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple, Protocol

from roost.core.task_spec import TaskSpec
from roost.runtime.messages import (
    ActionContext,
    CallReply,
    CallRequest,
    RunRequest,
    SecretGrant,
    Setup,
    StoreLocation,
    TaskRef,
    TraceBegin,
    TraceEnd,
)
from roost.runtime.task_api.calls import TaskCalls
from roost.runtime.task_api.task_context import ContextSource
from roost.runtime.values import EncodedOutputs
from roost.store.records import ActionPhase, LogRecord
from roost.store.store_config import StoreConfig
from roost.task import TaskTemplate


class LiveAction(ContextSource, Protocol):
    """An action as code running inline sees it: its context, the ids of its calls, its store path."""

    @property
    def id(self) -> str: ...

    custom: dict[str, str]

    def next_seq(self, task_name: str, inputs_hash: str, group: str | None) -> int: ...

    def store_scope(self) -> tuple[StoreConfig, str]: ...


class Attempt(NamedTuple):
    """One attempt of an action, resolved: what to run, with what, where, within which limits.

    Immutable, and a tuple: made for every attempt of every action, it must cost next to nothing
    (a frozen dataclass of as many fields costs several times more to build)."""

    run_name: str
    action_id: str
    number: int  # 0 for the first attempt
    task: TaskTemplate[Any]
    spec: TaskSpec
    placement: str  # inline, process, pool, ray, ray-pool
    inputs: bytes  # packed, as stored
    context: ActionContext | None  # how the code's ctx() is rebuilt away from the controller (None inline)
    env: Mapping[str, str]  # the environment's, the task's and the run's variables
    unset: tuple[str, ...]  # variables of secrets not granted to this task, taken out of its process
    limits: Mapping[str, Any]  # what the worker applies to itself: granted cores, GPUs, thread pools
    store: StoreLocation
    replays: Mapping[str, Any] | None = None  # traced calls a recovered run finished
    depth: int = 0  # in the run's tree (the root is 0)
    pool_key: tuple[Any, ...] | None = None  # the reusable pool the attempt belongs to
    # Inline only: the inputs as Python values, and the action as its code's ctx() sees it.
    values: dict[str, Any] | None = None
    source: LiveAction | None = None

    @property
    def label(self) -> str:
        return self.spec.name

    def request(self, task: TaskRef) -> RunRequest:
        assert self.context is not None, "an attempt that runs away from the controller carries its context"
        return RunRequest(self.action_id, task, self.inputs, self.context, dict(self.replays) if self.replays else None)

    def setup(self, secrets: list[SecretGrant], **extra: Any) -> Setup:
        fields: dict[str, Any] = {
            "env": dict(self.env),
            "unset": list(self.unset),
            "secrets": secrets,
            "limits": dict(self.limits),
            "store": self.store,
        }
        fields.update(extra)
        return Setup(**fields)


class AttemptReport(Protocol):
    """What an executor tells the controller about the attempt it runs (one per attempt)."""

    @property
    def calls(self) -> TaskCalls:
        """Where task calls made by code running in the controller's process go."""

    def phase(self, phase: ActionPhase) -> None: ...

    def node(self, where: str) -> None:
        """Where the attempt runs (a worker's pid, a replica, a Ray node)."""

    def log(self, record: LogRecord) -> None: ...

    def note(self, line: str) -> None:
        """A line of roost's own in the attempt's log."""

    def trace(self, note: TraceBegin | TraceEnd) -> None: ...

    def grant_secrets(self) -> list[SecretGrant]:
        """The task's secrets, resolved now (a missing one raises before anything starts)."""

    def release_secrets(self) -> None: ...

    async def call(self, request: CallRequest) -> CallReply:
        """Run a task called by the attempt's code as a child action; how it ended."""


class Executor(Protocol):
    name: str

    async def run(self, attempt: Attempt, report: AttemptReport) -> EncodedOutputs: ...
