"""``mode="hybrid"`` on a roost server: the run is the server's, its root action runs here, in the
program that started it, and every task it calls runs on the server as a child action of the same
run tree.

This process is the root action's worker, reached through the server (``engine/executors/client.py``
is the other end; ``runs/remote_runs.py`` starts this one with the server's calls). It receives the
attempt as a ``RunRequest``, runs the task's body with a call handler that sends each task call as a
``CallRequest`` and awaits its ``CallReply``, and reports its output lines, traced calls and how it
ended -- the messages a worker process sends its controller, carried by ``POST
/api/v1/runs/{run}/exchange``. Two threads carry them: one sends what is queued as soon as it is,
one waits for what the server holds.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Callable
from typing import Any

from roost.runtime import values
from roost.runtime.messages import (
    ActionDone,
    ActionFailed,
    CallReply,
    LogLine,
    Message,
    RunRequest,
    Shutdown,
    TaskRef,
)
from roost.runtime.task_api import tracing
from roost.runtime.task_api.calls import PreparedCall, TaskCalls, call_message
from roost.runtime.task_api.logs import LogSink, install
from roost.runtime.task_api.task_context import RunFacts
from roost.runtime.wire import error_to_wire, exception_from_wire
from roost.runtime.worker.action_code import run_code
from roost.runtime.worker.process_worker import WorkerAction
from roost.store.records import LogRecord
from roost.store.store_config import current as store_config
from roost.task import TaskTemplate

# exchange(outgoing, wait): send a hybrid root's messages, get what the server holds for it.
Exchange = Callable[[list[Message], float], list[Message]]

# How long one wait for the server's messages lasts (a run's end is noticed within it).
WAIT_S = 1.0


class HybridRoot(TaskCalls):
    """The root action of one hybrid run, run here for the server."""

    def __init__(
        self,
        run_name: str,
        task: TaskTemplate[Any],
        exchange: Exchange,
        ended: Callable[[], bool],
        module_in_bundle: Callable[[str], str],
        unreachable: type[Exception],
    ):
        self.run_name = run_name
        self._task = task
        self._exchange_with_server = exchange
        self._ended = ended  # has the run ended on the server?
        self._module_in_bundle = module_in_bundle
        self._unreachable = unreachable  # the server does not answer now: try again
        self._outbox: list[Message] = []
        self._queued = threading.Condition()
        self._calls: dict[int, asyncio.Future[CallReply]] = {}
        self._call_ids = itertools.count()
        self._running: asyncio.Task[None] | None = None
        self._done = threading.Event()
        self.error: BaseException | None = None  # why the exchange with the server stopped, if it did

    # -- the exchange with the server --------------------------------------------------------------
    def send(self, message: Message) -> None:
        with self._queued:
            self._outbox.append(message)
            self._queued.notify()

    def _sender(self) -> None:
        while not self._done.is_set():
            with self._queued:
                self._queued.wait_for(lambda: self._outbox or self._done.is_set(), timeout=WAIT_S)
                outgoing, self._outbox = self._outbox, []
            if outgoing:
                self._exchange(outgoing, 0.0)

    def _receiver(self) -> None:
        while not self._done.is_set():
            self._exchange([], WAIT_S)

    def _exchange(self, outgoing: list[Message], wait: float) -> None:
        try:
            held = self._exchange_with_server(outgoing, wait)
        except self._unreachable:
            if outgoing:  # sent again with the next exchange
                with self._queued:
                    self._outbox[:0] = outgoing
            self._done.wait(WAIT_S)
            return
        except Exception as e:  # the server refused: the run is over for this client
            self.error = e
            self._done.set()
            return
        if held:
            assert self.loop is not None
            self.loop.call_soon_threadsafe(self._on_messages, held)

    def _on_messages(self, held: list[Message]) -> None:
        for message in held:
            if isinstance(message, RunRequest):
                self._running = asyncio.ensure_future(self._run(message))
            elif isinstance(message, CallReply):
                future = self._calls.pop(message.call, None)
                if future is not None and not future.done():
                    future.set_result(message)
            elif isinstance(message, Shutdown) and self._running is not None:
                self._running.cancel()

    # -- the root action's code ----------------------------------------------------------------------
    async def _run(self, request: RunRequest) -> None:
        try:
            action = WorkerAction(request.context, RunFacts.from_wire(request.context.run), store_config())
            action.replay = request.replay or {}
            inputs = values.decode_inputs(self._task, request.inputs)
            sink = LogSink(self._emit_log, self.run_name, request.id, request.context.attempt)
            try:
                result = await run_code(self, self._task, action, inputs, sink)
            finally:
                sink.close()
            self.send(ActionDone(request.id, values.encode_outputs(self._task, result).data))
        except asyncio.CancelledError:
            return  # aborted on the server, which told us so
        except BaseException as e:
            self.send(ActionFailed(request.id, error_to_wire(e)))

    def _emit_log(self, record: LogRecord) -> None:
        self.send(LogLine(record.action_id, record.attempt, record.ts, record.stream, record.line))

    async def start(self, prepared: PreparedCall) -> Any:
        call_id = next(self._call_ids)
        assert self.loop is not None
        future: asyncio.Future[CallReply] = self.loop.create_future()
        self._calls[call_id] = future
        request = call_message(prepared, call_id)
        if request.task.module is not None:  # where the server finds the task: in the code bundle
            request.task = TaskRef(self._module_in_bundle(request.task.module), request.task.name)
        self.send(request)
        reply = await future
        if reply.error is not None:
            raise exception_from_wire(reply.error)
        return values.decode_outputs(prepared.task, reply.outputs)  # type: ignore[arg-type]

    records_traces = True

    def trace_begin_blocking(self, call: Any, replay: bool = True) -> bytes | None:
        self.send(tracing.begin_note(call))
        return tracing.replayed(call, replay)

    def trace_end(self, call: Any, outputs: bytes | None, error: BaseException | None) -> None:
        self.send(tracing.end_note(call, outputs, error))

    # -- the whole run ---------------------------------------------------------------------------------
    async def drive(self) -> None:
        """Serve the root action until the run ends on the server."""
        self.bind_loop(asyncio.get_running_loop())
        install()
        threads = [threading.Thread(target=t, daemon=True, name=f"roost-hybrid-{self.run_name}")
                   for t in (self._sender, self._receiver)]  # fmt: skip
        for thread in threads:
            thread.start()
        try:
            while not self._done.is_set():
                try:
                    if await asyncio.to_thread(self._ended):
                        break
                except self._unreachable:
                    pass
                await asyncio.sleep(0.1)
        finally:
            self._done.set()
            with self._queued:
                self._queued.notify_all()
            if self._running is not None and not self._running.done():
                self._running.cancel()
        if self.error is not None:
            raise self.error
