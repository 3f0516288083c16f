"""TaskContext and ``flyte.ctx()``: what a running task can learn about the action it is."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

from roost.runtime.task_api.checkpoint import Checkpoint, attempt_folder, newest_checkpoint
from roost.runtime.task_api.report_page import Report


@dataclass(frozen=True)
class ActionID:
    """An action's identity: its name within the run, and the run's name."""

    name: str
    run_name: str | None = None
    project: str | None = None
    domain: str | None = None
    org: str | None = None

    def __post_init__(self) -> None:
        if self.run_name is None:
            object.__setattr__(self, "run_name", self.name)


@dataclass(frozen=True)
class RawDataPath:
    """Where a task may write data of its own (files, directories, data frames)."""

    path: str
    path_rewrite: Any = None

    def get_random_remote_path(self, file_name: str | None = None) -> str:
        name = file_name or uuid.uuid4().hex
        return f"{self.path.rstrip('/')}/{uuid.uuid4().hex[:16]}/{name}"


@dataclass(frozen=True)
class GroupData:
    name: str


@dataclass(frozen=True)
class CheckpointPaths:
    prev_checkpoint_path: str | None = None
    checkpoint_path: str | None = None


def _int_env(name: str) -> int | None:
    value = os.environ.get(name)
    return int(value) if value is not None and value.strip().lstrip("-").isdigit() else None


_CHECKPOINT_KEY = "__roost_checkpoint__"


@dataclass(frozen=True)
class TaskContext:
    """The context of the running action (``flyte.ctx()``).

    ``attempt_number`` is the real attempt, counting from 0 (Flyte's local mode always says 0).
    """

    action: ActionID
    version: str = ""
    raw_data_path: RawDataPath | None = None
    input_path: str | None = None
    output_path: str | None = None
    run_base_dir: str | None = None
    report: Report | None = None
    group_data: GroupData | None = None
    checkpoint_paths: CheckpointPaths | None = None
    code_bundle: Any = None
    compiled_image_cache: Any = None
    mode: str = "remote"
    data: dict[str, Any] = field(default_factory=dict)
    interactive_mode: bool = False
    custom_context: dict[str, str] = field(default_factory=dict)
    disable_run_cache: bool = False
    in_driver_literal_conversion: bool = False
    run_start_time: datetime | None = None
    task_action: Any = None
    attempt_number: int = 0

    def is_in_cluster(self) -> bool:
        return self.mode == "remote"

    @property
    def checkpoint(self) -> Checkpoint | None:
        """The attempt's checkpoint helper: ``write``/``read`` bytes, ``save``/``restore`` files, and
        the SDK's ``load``/``save`` pairs. One per attempt: what ``load`` brought in stays loaded."""
        paths = self.checkpoint_paths
        if paths is None or paths.checkpoint_path is None:
            return None
        helper = self.data.get(_CHECKPOINT_KEY)
        if helper is None:
            helper = self.data[_CHECKPOINT_KEY] = Checkpoint(paths.checkpoint_path, paths.prev_checkpoint_path)
        return helper  # type: ignore[no-any-return]

    def replace(self, **kwargs: Any) -> TaskContext:
        if "data" in kwargs:
            kwargs["data"] = {**self.data, **kwargs["data"]}
        return dataclasses.replace(self, **kwargs)

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    # Distributed-training coordinates, as launchers such as torchrun set them.
    @property
    def rank(self) -> int | None:
        return _int_env("RANK")

    @property
    def local_rank(self) -> int | None:
        return _int_env("LOCAL_RANK")

    @property
    def world_size(self) -> int | None:
        return _int_env("WORLD_SIZE")

    @property
    def local_world_size(self) -> int | None:
        return _int_env("LOCAL_WORLD_SIZE")

    @property
    def node_rank(self) -> int | None:
        return _int_env("GROUP_RANK") if "GROUP_RANK" in os.environ else _int_env("NODE_RANK")

    @property
    def nnodes(self) -> int | None:
        return _int_env("NNODES")

    @property
    def master_addr(self) -> str | None:
        return os.environ.get("MASTER_ADDR")

    @property
    def master_port(self) -> int | None:
        return _int_env("MASTER_PORT")

    @property
    def restart_attempt(self) -> int | None:
        return _int_env("TORCHELASTIC_RESTART_COUNT")


@dataclass(frozen=True)
class RunFacts:
    """What every action of a run shares in its context (sent once per call to worker processes)."""

    run_name: str
    mode: str
    raw_data_path: str
    run_base_dir: str
    disable_run_cache: bool
    started_at: float
    # The run a rerun(recover=True) recovers: where its actions' checkpoints are (checkpoint.py).
    recovered_base_dir: str | None = None
    project: str | None = None
    domain: str | None = None
    org: str | None = None

    def to_wire(self) -> list[Any]:
        """The facts as they travel with every call: an array of the fields in order, ``run_name``
        first (a worker keeps the facts of each run it serves by that name). An array rather than a
        map: no field names to pack and unpack on every call."""
        return [getattr(self, f.name) for f in dataclasses.fields(self)]

    @classmethod
    def from_wire(cls, data: list[Any]) -> RunFacts:
        return cls(*data)


def make_task_context(
    run: RunFacts, action_id: str, attempt: int, custom: dict[str, str], version: str, record: Any = None
) -> TaskContext:
    """An action's TaskContext -- built the same way in the controller and in a worker, and only when
    the task's code asks for it. It is built once per attempt, and so is the attempt's report."""
    base = run.run_base_dir
    return TaskContext(
        action=ActionID(name=action_id, run_name=run.run_name, project=run.project, domain=run.domain, org=run.org),
        version=version,
        raw_data_path=RawDataPath(path=run.raw_data_path),
        input_path=f"{base}/{action_id}/inputs.pb",
        output_path=f"{base}/{action_id}",
        run_base_dir=base,
        report=Report(name=action_id),
        checkpoint_paths=CheckpointPaths(
            prev_checkpoint_path=_previous_checkpoint(run, action_id, attempt),
            checkpoint_path=attempt_folder(f"{base}/{action_id}", attempt),
        ),
        mode=run.mode,
        custom_context=dict(custom),
        disable_run_cache=run.disable_run_cache,
        run_start_time=datetime.fromtimestamp(run.started_at, tz=timezone.utc),
        task_action=record,
        attempt_number=attempt,
    )


def _previous_checkpoint(run: RunFacts, action_id: str, attempt: int) -> str | None:
    """The newest checkpoint an earlier attempt of this action wrote -- in this run, else in the run
    it recovers. A first attempt of a fresh run has none, and costs no look."""
    found = newest_checkpoint(f"{run.run_base_dir}/{action_id}", before=attempt) if attempt else None
    if found is None and run.recovered_base_dir:
        found = newest_checkpoint(f"{run.recovered_base_dir}/{action_id}")
    return found


class _NullContext:
    """What ``ctx()`` returns outside a task: falsy, and every field is ``None``."""

    def __bool__(self) -> bool:
        return False

    def __getattr__(self, name: str) -> None:
        return None

    def __repr__(self) -> str:
        return "<no task context>"


NULL_CONTEXT: Any = _NullContext()


class ContextSource(Protocol):
    """What the controller puts in ``current_action``: something that can describe itself."""

    def task_context(self) -> TaskContext: ...


# The running action; set by the controller around the task's code. Its TaskContext is built only
# when the code asks for it, which keeps starting an action cheap.
current_action: ContextVar[ContextSource | None] = ContextVar("roost_action", default=None)
# The group that actions started now belong to (flyte.group).
current_group: ContextVar[str | None] = ContextVar("roost_group", default=None)
# Extra string key/values that propagate to actions started now (flyte.custom_context).
current_custom: ContextVar[dict[str, str] | None] = ContextVar("roost_custom_context", default=None)


def ctx() -> TaskContext | Any:
    """The current task's context, or a falsy null context outside a task."""
    source = current_action.get()
    if source is None:
        return NULL_CONTEXT
    tc = source.task_context()
    group = current_group.get()
    custom = current_custom.get()
    if group is None and custom is None:
        return tc
    return dataclasses.replace(
        tc,
        group_data=GroupData(group) if group is not None else tc.group_data,
        custom_context=custom if custom is not None else tc.custom_context,
    )


@contextlib.contextmanager
def custom_context(**kv: str) -> Iterator[None]:
    """Add string key/values seen by every action started inside the block (no-op outside a task)."""
    if current_action.get() is None:
        yield
        return
    for key, value in kv.items():
        if not isinstance(value, str):
            raise TypeError(f"custom_context values must be str, got {type(value).__name__} for {key!r}")
    token = current_custom.set({**get_custom_context(), **kv})
    try:
        yield
    finally:
        current_custom.reset(token)


def get_custom_context() -> dict[str, str]:
    """The custom context of the current action (``{}`` outside a task)."""
    custom = current_custom.get()
    if custom is not None:
        return dict(custom)
    source = current_action.get()
    return dict(source.task_context().custom_context) if source is not None else {}


@contextlib.contextmanager
def group(name: str) -> Iterator[None]:
    """Tag the actions started inside the block with a group (visible in the run's tree)."""
    if not isinstance(name, str) or not name:
        raise ValueError("group name must be a non-empty str")
    if current_action.get() is None:
        yield
        return
    token = current_group.set(name)
    try:
        yield
    finally:
        current_group.reset(token)
