"""The worker: a forked process that runs actions sent by the controller over its socket.

    controller -> worker   Setup (the process's environment), RunRequest, CallReply, Shutdown
    worker -> controller   LogLine, CallRequest, ActionDone / ActionFailed, TraceBegin / TraceEnd

(runtime/messages.py has each one's fields.) A nested task call made by the code here becomes a child
action of the controller, which stays the only writer of the run store; the worker only computes
the call's id (it knows its own calls).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import threading
import traceback
from typing import Any

from roost.runtime import values
from roost.runtime.frames import MessageProtocol, connect
from roost.runtime.messages import (
    ActionContext,
    ActionDone,
    ActionFailed,
    CallReply,
    LogLine,
    Message,
    RunRequest,
    Setup,
    Shutdown,
)
from roost.runtime.polling import PollingEventLoop, expect_answer
from roost.runtime.task_api import tracing
from roost.runtime.task_api.calls import PreparedCall, TaskCalls, call_message
from roost.runtime.task_api.logs import LogSink, install
from roost.runtime.task_api.task_context import RunFacts, TaskContext, make_task_context
from roost.runtime.wire import error_to_wire, exception_from_wire, task_from_wire
from roost.runtime.worker import setup as isolation
from roost.runtime.worker.action_code import run_code
from roost.store.records import LogRecord
from roost.store.store_config import StoreConfig


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

    def __init__(self, wire: ActionContext, run: RunFacts, store: StoreConfig):
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


class Worker(TaskCalls):
    def __init__(self, sock: socket.socket):
        self._sock = sock
        self._connection: MessageProtocol | None = None
        self._ended: asyncio.Future[None] = None  # type: ignore[assignment]  # made on the loop, in main()
        self._calls: dict[int, asyncio.Future[CallReply]] = {}
        self._call_ids = itertools.count()
        self._running: dict[str, asyncio.Task[None]] = {}
        self._store = StoreConfig.default()
        self._runs: dict[str, RunFacts] = {}
        # One handler per kind of message the controller sends.
        self._handlers: dict[type[Message], Any] = {
            RunRequest: self._on_run,
            CallReply: self._on_reply,
            Setup: self._setup,
            Shutdown: lambda _: self._on_close(),
        }

    # -- sending -------------------------------------------------------------------------------
    def send(self, message: Message) -> None:
        """Queue a message to the controller, from the loop or from a sync body's thread."""
        assert self._connection is not None and self.loop is not None
        if threading.get_ident() == self._loop_thread:
            self._connection.send(message)
        else:
            self.loop.call_soon_threadsafe(self._connection.send, message)

    def _emit_log(self, record: LogRecord) -> None:
        self.send(LogLine(record.action_id, record.attempt, record.ts, record.stream, record.line))

    # -- the controller's messages -------------------------------------------------------------------
    async def main(self) -> int:
        self.bind_loop(asyncio.get_running_loop())
        self._connection = await connect(self._sock)
        self._ended = self.loop.create_future()  # type: ignore[union-attr]
        install()
        self._connection.attach(self._on_message, self._on_close)
        await self._ended
        for task in self._running.values():
            task.cancel()
        await asyncio.gather(*self._running.values(), return_exceptions=True)
        self._connection.close()
        return 0

    def _on_message(self, message: Message) -> None:
        handler = self._handlers.get(type(message))
        if handler is not None:
            handler(message)

    def _on_run(self, message: RunRequest) -> None:
        self._running[message.id] = asyncio.ensure_future(self._run(message))

    def _on_reply(self, message: CallReply) -> None:
        future = self._calls.pop(message.call, None)
        if future is not None and not future.done():
            future.set_result(message)

    def _on_close(self) -> None:
        """The controller said stop, or went away."""
        if not self._ended.done():
            self._ended.set_result(None)

    def _run_facts(self, wire: dict[str, Any]) -> RunFacts:
        """The facts of a run, rebuilt once per run this worker serves (replicas serve many)."""
        facts = self._runs.get(wire["run_name"])
        if facts is None:
            facts = self._runs[wire["run_name"]] = RunFacts.from_wire(wire)
        return facts

    def _setup(self, message: Setup) -> None:
        for name in message.unset:
            os.environ.pop(name, None)
        os.environ.update(message.env)
        isolation.apply_secrets(message.secrets)
        isolation.apply_limits(message.limits)
        store = message.store
        if store is not None:
            self._store = StoreConfig(home=StoreConfig.default(store.home).home, raw_data_url=store.raw_data_url)

    async def _run(self, message: RunRequest) -> None:
        action_id = message.id
        try:
            task = task_from_wire(message.task)
            action = WorkerAction(message.context, self._run_facts(message.context.run), self._store)
            action.replay = message.replay or {}
            inputs = values.decode_inputs(task, message.inputs)
            sink = LogSink(self._emit_log, action.run_name, action_id, action.attempt)
            try:
                result = await run_code(self, task, action, inputs, sink)
            finally:
                sink.close()
            encoded = values.encode_outputs(task, result)
            self.send(ActionDone(action_id, encoded.data))
        except asyncio.CancelledError:
            raise
        except BaseException as e:
            self.send(ActionFailed(action_id, error_to_wire(e)))
        finally:
            self._running.pop(action_id, None)
        # A warm replica's next request usually follows at once: wait for it awake.
        expect_answer(self.loop)

    # -- calls made by the code here ---------------------------------------------------------------
    async def start(self, prepared: PreparedCall) -> Any:
        call_id = next(self._call_ids)
        assert self.loop is not None
        future: asyncio.Future[CallReply] = self.loop.create_future()
        self._calls[call_id] = future
        self.send(call_message(prepared, call_id))
        expect_answer(self.loop)
        reply = await future
        if reply.error is not None:
            raise exception_from_wire(reply.error)
        return values.decode_outputs(prepared.task, reply.outputs)  # type: ignore[arg-type]

    # -- @flyte.trace calls: run here, recorded by the controller (runtime/task_api/tracing.py) ----------------
    records_traces = True

    def trace_begin_blocking(self, call: Any, replay: bool = True) -> bytes | None:
        # A recovered run sends, with each action, the outputs of its traced calls that finished:
        # answered here, without a round trip -- so sync helpers on the event loop replay too.
        self.send(tracing.begin_note(call))
        return tracing.replayed(call, replay)

    def trace_end(self, call: Any, outputs: bytes | None, error: BaseException | None) -> None:
        self.send(tracing.end_note(call, outputs, error))


def warm_up() -> None:
    """Import, in the template, what every worker would otherwise import after the fork."""
    import asyncio.unix_events

    import cloudpickle  # noqa: F401

    loop = asyncio.new_event_loop()
    loop.close()


def serve(sock: socket.socket) -> int:
    """Run a worker on ``sock`` until the controller says stop or goes away; the exit code."""
    loop = PollingEventLoop()
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(Worker(sock).main())
    except BaseException:
        traceback.print_exc()
        return 70
