"""Task calls made by running code: the rules shared by the controller and by worker processes.

Inside a run, ``task(...)`` and ``await task.aio(...)`` reach a call handler (``roost.task``). Both
the controller (for inline code) and a worker (for code in its process) prepare the call the same
way -- bind and convert the inputs, give the call its deterministic id in the caller, at call time --
and apply the same rules for sync and async callers; they differ only in how the child is started.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, Protocol

from roost.core.compile import compile_task
from roost.errors import RemoteTaskUsageError, SyncTaskCallInAsyncContextError
from roost.runtime import values
from roost.runtime.ids import child_action_id
from roost.runtime.messages import CallRequest, TaskRef
from roost.runtime.task_api.task_context import current_action, current_custom, current_group
from roost.runtime.wire import task_to_wire
from roost.task import TaskTemplate


class Caller(Protocol):
    """The running action that makes a call."""

    @property
    def id(self) -> str: ...

    custom: dict[str, str]

    def next_seq(self, task_name: str, inputs_hash: str, group: str | None) -> int: ...


@dataclass(slots=True)
class PreparedCall:
    task: TaskTemplate[Any]
    bound: dict[str, Any]
    encoded: values.EncodedInputs
    parent: Any
    action_id: str
    group: str | None
    custom: dict[str, str]


@dataclass(slots=True)
class DeployedCall:
    """A call of a task deployed on the server (``flyte.remote.Task.get``): by name and version, with
    plain input values packed, since its caller has none of its code."""

    name: str
    version: str | None
    data: bytes
    parent: Any
    action_id: str
    group: str | None
    custom: dict[str, str]


def deployed_message(call: DeployedCall, call_id: Any, attempt: int = 0) -> CallRequest:
    """A deployed task's call as it travels to the controller."""
    ref = TaskRef(name=call.name, version=call.version, role="deployed")
    return CallRequest(call_id, call.parent.id, call.action_id, ref, call.data, "", call.group, call.custom, attempt)


def call_message(prepared: PreparedCall, call: Any, attempt: int = 0) -> CallRequest:
    """A task call as it travels to the controller from a worker process or a Ray task."""
    return CallRequest(
        call,
        prepared.parent.id,
        prepared.action_id,
        task_to_wire(prepared.task),
        prepared.encoded.data,
        prepared.encoded.hash,
        prepared.group,
        prepared.custom,
        attempt,
    )


class TaskCalls:
    """Base of the call handlers. Subclasses implement ``start(prepared)``."""

    loop: asyncio.AbstractEventLoop | None = None
    _loop_thread: int | None = None

    def bind_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._loop_thread = threading.get_ident()

    async def start(self, prepared: PreparedCall) -> Any:
        raise NotImplementedError

    # -- @flyte.trace helpers (runtime/task_api/tracing.py); handlers that record them set records_traces ---
    records_traces = False

    async def trace_begin(self, call: Any, replay: bool = True) -> bytes | None:
        """Record the start of a traced call; its recorded outputs when a recovered run replays it."""
        return self.trace_begin_blocking(call, replay)

    def trace_begin_blocking(self, call: Any, replay: bool = True) -> bytes | None:
        raise NotImplementedError

    def trace_end(self, call: Any, outputs: bytes | None, error: BaseException | None) -> None:
        """Record how a traced call ended (``outputs`` None for a generator, or on error)."""
        raise NotImplementedError

    def call(self, task: TaskTemplate[Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """``task(...)`` from running code: an awaitable for an async task; the value for a sync task
        called from sync code; an error for a sync task called on the event loop."""
        on_loop = threading.get_ident() == self._loop_thread
        is_async = compile_task(task).is_async
        if on_loop and not is_async:
            raise SyncTaskCallInAsyncContextError(
                f"{task.name} is a sync task called from async code: calling it would block the event loop "
                f"that runs the other actions. Use `await {task.short_name}.aio(...)` instead."
            )
        prepared = self.prepare(task, args, kwargs)
        if is_async:
            return self.start(prepared) if on_loop else self._from_other_thread(prepared)
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(self.start(prepared), self.loop).result()

    def acall(self, task: TaskTemplate[Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Awaitable[Any]:
        """``await task.aio(...)``: sync or async task, always awaitable."""
        prepared = self.prepare(task, args, kwargs)
        if threading.get_ident() == self._loop_thread:
            return self.start(prepared)
        return self._from_other_thread(prepared)

    async def _from_other_thread(self, prepared: PreparedCall) -> Any:
        # Awaited on another thread's event loop (a sync task that ran asyncio.run): the child
        # itself must start on the run's loop.
        assert self.loop is not None
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self.start(prepared), self.loop))

    # -- deployed tasks (``await flyte.remote.Task.get(...)(x=1)``) -------------------------------------
    def call_deployed(self, name: str, version: str | None, kwargs: dict[str, Any]) -> Any:
        """A deployed task called from running code: an awaitable on the event loop, else its value."""
        parent = current_action.get()
        if parent is None:
            raise RuntimeError(f"{name} was called through a run's handler outside any action")
        data = values.pack_plain(kwargs)
        digest = hashlib.sha256(data).hexdigest()
        group = current_group.get()
        seq = parent.next_seq(name, digest, group)  # type: ignore[attr-defined]
        custom = current_custom.get()
        call = DeployedCall(
            name,
            version,
            data,
            parent,
            child_action_id(parent.id, digest, name, seq, group),  # type: ignore[attr-defined]
            group,
            parent.custom if custom is None else custom,  # type: ignore[attr-defined]
        )
        if threading.get_ident() == self._loop_thread:
            return self.start_deployed(call)
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(self.start_deployed(call), self.loop).result()

    async def start_deployed(self, call: DeployedCall) -> Any:
        raise RemoteTaskUsageError(
            f"the deployed task {call.name!r} can be called from a task only in a run on a roost server"
        )

    # -- conditions (``flyte.new_condition``; runtime/task_api/conditions.py) --------------------------
    def register_condition(self, condition: Any, parent: Any, data: bytes, group: str | None) -> None:
        """Record ``condition`` (its id given) as a child of ``parent``; returns at once."""
        raise RuntimeError("conditions are not supported in tasks run by this executor (Ray)")

    async def wait_condition(self, condition: Any) -> Any:
        """The answer to ``condition``, once given (on the run's loop)."""
        raise RuntimeError("conditions are not supported in tasks run by this executor (Ray)")

    def prepare(self, task: TaskTemplate[Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> PreparedCall:
        """Bind and convert the inputs and give the call its deterministic id -- in the caller, at call
        time, so that ids follow the order of the calls in the code."""
        parent = current_action.get()
        if parent is None:
            raise RuntimeError(f"{task.name} was called through a run's handler outside any action")
        bound = task.interface.bind(args, kwargs, task.name)
        encoded = values.encode_inputs(task, bound)
        group = current_group.get()
        seq = parent.next_seq(task.name, encoded.hash, group)  # type: ignore[attr-defined]
        action_id = child_action_id(parent.id, encoded.hash, task.name, seq, group)  # type: ignore[attr-defined]
        custom = current_custom.get()
        return PreparedCall(
            task,
            bound,
            encoded,
            parent,
            action_id,
            group,
            parent.custom if custom is None else custom,  # type: ignore[attr-defined]
        )
