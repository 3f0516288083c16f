"""The call handler of action code whose controller is at the other end of a channel of messages:
a worker process (its socket), the client of a hybrid run (the server's API).

Task calls go out as ``CallRequest`` and come back as ``CallReply``; traced calls and output lines
go out as notes; an action runs to ``ActionDone`` or ``ActionFailed``. Subclasses say how a message
is sent (``send``).
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Callable
from typing import Any

from roost.runtime import messages, values
from roost.runtime.task_api import tracing
from roost.runtime.task_api.calls import DeployedCall, PreparedCall, TaskCalls, call_message, deployed_message
from roost.runtime.task_api.conditions import condition_message
from roost.runtime.task_api.logs import LogSink
from roost.runtime.task_api.task_context import RunFacts, TaskContext, current_action, make_task_context
from roost.runtime.wire import error_to_wire, exception_from_wire
from roost.runtime.worker.action_code import run_code
from roost.store.records import LogRecord
from roost.store.store_config import StoreConfig
from roost.task import TaskTemplate


class WorkerAction:
    """The action a worker is running, as its code sees it (``ctx()``, the ids of its calls)."""

    __slots__ = (
        "_context",
        "_seq",
        "_seq_lock",
        "attempt",
        "custom",
        "id",
        "replay",
        "run",
        "run_name",
        "scope",
        "version",
    )

    def __init__(self, wire: messages.ActionContext, run: RunFacts, store: StoreConfig):
        self.id = wire.id
        self.attempt = wire.attempt
        self.custom = dict(wire.custom)
        self.version = wire.version
        self.run = run
        self.run_name = run.run_name
        self.scope = (store, f"{run.run_name}/{self.id}")
        self._context: TaskContext | None = None
        self._seq: dict[tuple[str, str, str | None], int] = {}
        self._seq_lock = threading.Lock()
        # Traced calls a recovered run finished: action id -> (helper name, packed outputs).
        self.replay: dict[str, Any] = {}

    def next_seq(self, task_name: str, inputs_hash: str, group: str | None) -> int:
        key = (task_name, inputs_hash, group)
        with self._seq_lock:
            n = self._seq.get(key, 0) + 1
            self._seq[key] = n
        return n

    def task_context(self) -> TaskContext:
        if self._context is None:
            self._context = make_task_context(self.run, self.id, self.attempt, self.custom, self.version)
        return self._context


class MessageCalls(TaskCalls):
    def __init__(self) -> None:
        self._calls: dict[int, asyncio.Future[messages.CallReply]] = {}
        self._call_ids = itertools.count()

    def send(self, message: messages.Message) -> None:
        raise NotImplementedError

    def call_request(self, prepared: PreparedCall, call_id: int) -> messages.CallRequest:
        """The message of a task call (a subclass may say where the other side finds the task)."""
        return call_message(prepared, call_id)

    def awaiting_reply(self) -> None:
        """A reply is due soon (a worker's loop polls for it awake)."""

    # -- task calls --------------------------------------------------------------------------------------
    async def start(self, prepared: PreparedCall) -> Any:
        outputs = await self._call(lambda call_id: self.call_request(prepared, call_id))
        return values.decode_outputs(prepared.task, outputs)

    async def start_deployed(self, call: DeployedCall) -> Any:
        # Its caller has no code of it: its outputs come back as the plain values they pack.
        return values.decode_outputs(None, await self._call(lambda call_id: deployed_message(call, call_id)))

    def register_condition(self, condition: Any, parent: Any, data: bytes, group: str | None) -> None:
        # Nobody waits for the reply: a wait sent later on the same channel is served after it.
        self.send(condition_message(condition, parent.id, "condition", data, group, -1))

    async def wait_condition(self, condition: Any) -> Any:
        parent = current_action.get()
        outputs = await self._call(
            lambda call_id: condition_message(condition, parent.id, "condition_wait", b"", None, call_id)  # type: ignore[union-attr]
        )
        return values.decode_outputs(None, outputs)

    async def _call(self, request: Callable[[int], messages.CallRequest]) -> bytes:
        """Send the call made by ``request(call id)``; its packed outputs, or its error raised."""
        call_id = next(self._call_ids)
        assert self.loop is not None
        future: asyncio.Future[messages.CallReply] = self.loop.create_future()
        self._calls[call_id] = future
        self.send(request(call_id))
        self.awaiting_reply()
        reply = await future
        if reply.error is not None:
            raise exception_from_wire(reply.error)
        return reply.outputs  # type: ignore[return-value]

    def on_reply(self, message: messages.CallReply) -> None:
        future = self._calls.pop(message.call, None)
        if future is not None and not future.done():
            future.set_result(message)

    # -- @flyte.trace calls: run here, recorded by the controller (runtime/task_api/tracing.py) ----------
    records_traces = True

    def trace_begin_blocking(self, call: Any, replay: bool = True) -> bytes | None:
        # A recovered run sends, with each action, the outputs of its traced calls that finished:
        # answered here, without a round trip -- so sync helpers on the event loop replay too.
        self.send(tracing.begin_note(call))
        return tracing.replayed(call, replay)

    def trace_end(self, call: Any, outputs: bytes | None, error: BaseException | None) -> None:
        self.send(tracing.end_note(call, outputs, error))

    # -- running an action ----------------------------------------------------------------------------------
    def emit_log(self, record: LogRecord) -> None:
        self.send(messages.LogLine(record.action_id, record.attempt, record.ts, record.stream, record.line))

    def action_ended(self, action_id: str) -> None:
        """An attempt's code ended here, however it ended (after its ``ActionDone`` / ``ActionFailed``)."""

    async def run_action(self, request: messages.RunRequest, task: TaskTemplate[Any], action: WorkerAction) -> None:
        """Run one attempt's code to its end, told as ``ActionDone`` / ``ActionFailed`` (a
        cancellation is not told: whoever cancelled knows)."""
        try:
            inputs = values.decode_inputs(task, request.inputs)
            sink = LogSink(self.emit_log, action.run_name, action.id, action.attempt)
            try:
                result = await run_code(self, task, action, inputs, sink)
            finally:
                sink.close()
            self.send(messages.ActionDone(request.id, values.encode_outputs(task, result).data))
        except asyncio.CancelledError:
            raise
        except BaseException as e:
            self.send(messages.ActionFailed(request.id, error_to_wire(e)))
        finally:
            self.action_ended(request.id)
