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
import threading
from collections.abc import Callable
from typing import Any

from roost.runtime.messages import (
    CallReply,
    CallRequest,
    Message,
    RunRequest,
    Shutdown,
    TaskRef,
)
from roost.runtime.task_api.calls import PreparedCall, call_message
from roost.runtime.task_api.logs import install
from roost.runtime.task_api.task_context import RunFacts
from roost.runtime.worker.message_calls import MessageCalls, WorkerAction
from roost.store.store_config import current as store_config
from roost.task import TaskTemplate

# exchange(outgoing, wait): send a hybrid root's messages, get what the server holds for it.
Exchange = Callable[[list[Message], float], list[Message]]

# How long one wait for the server's messages lasts (a run's end is noticed within it).
WAIT_S = 1.0


class HybridRoot(MessageCalls):
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
        super().__init__()
        self._outbox: list[Message] = []
        self._queued = threading.Condition()
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
                self.on_reply(message)
            elif isinstance(message, Shutdown) and self._running is not None:
                self._running.cancel()

    # -- the root action's code ----------------------------------------------------------------------
    async def _run(self, request: RunRequest) -> None:
        action = WorkerAction(request.context, RunFacts.from_wire(request.context.run), store_config())
        action.replay = request.replay or {}
        try:
            await self.run_action(request, self._task, action)
        except asyncio.CancelledError:
            return  # aborted on the server, which told us so

    def call_request(self, prepared: PreparedCall, call_id: int) -> CallRequest:
        request = call_message(prepared, call_id)
        if request.task.module is not None:  # where the server finds the task: in the code bundle
            request.task = TaskRef(self._module_in_bundle(request.task.module), request.task.name)
        return request

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
