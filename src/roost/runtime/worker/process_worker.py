"""The worker: a forked process that runs actions sent by the controller over its socket.

    controller -> worker   Setup (the process's environment), RunRequest, CallReply, Shutdown
    worker -> controller   LogLine, CallRequest, ActionDone / ActionFailed, TraceBegin / TraceEnd

(runtime/messages.py has each one's fields.) A nested task call made by the code here becomes a child
action of the controller, which stays the only writer of the run store; the worker only computes
the call's id (it knows its own calls).
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import traceback
from pathlib import Path
from typing import Any

from roost.runtime.frames import MessageProtocol, connect
from roost.runtime.messages import (
    ActionFailed,
    CallReply,
    Message,
    RunRequest,
    Setup,
    Shutdown,
)
from roost.runtime.polling import PollingEventLoop, expect_answer
from roost.runtime.task_api.logs import install
from roost.runtime.task_api.task_context import RunFacts
from roost.runtime.wire import error_to_wire, task_from_wire
from roost.runtime.worker import setup as isolation
from roost.runtime.worker.message_calls import MessageCalls, WorkerAction
from roost.store.store_config import StoreConfig


class Worker(MessageCalls):
    def __init__(self, sock: socket.socket):
        self._sock = sock
        self._connection: MessageProtocol | None = None
        super().__init__()
        self._ended: asyncio.Future[None] = None  # type: ignore[assignment]  # made on the loop, in main()
        self._running: dict[str, asyncio.Task[None]] = {}
        # The run's store, as Setup says (the controller's resolved home); the default only without one.
        self._store: StoreConfig | None = None
        self._runs: dict[str, RunFacts] = {}
        # One handler per kind of message the controller sends.
        self._handlers: dict[type[Message], Any] = {
            RunRequest: self._on_run,
            CallReply: self.on_reply,
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
        # The action's task is found and its context made here, in the read callback, and its code
        # runs in an asyncio task of its own started on run_action itself: no coroutine in between on
        # a warm call's way.
        try:
            task = task_from_wire(message.task)
            store = self._store or StoreConfig.default()
            action = WorkerAction(message.context, self._run_facts(message.context.run), store)
        except BaseException as e:  # the task could not be found
            self.send(ActionFailed(message.id, error_to_wire(e)))
            return
        action.replay = message.replay or {}
        assert self.loop is not None
        self._running[message.id] = self.loop.create_task(self.run_action(message, task, action))

    def _on_close(self) -> None:
        """The controller said stop, or went away."""
        if not self._ended.done():
            self._ended.set_result(None)

    def _run_facts(self, wire: list[Any]) -> RunFacts:
        """The facts of a run, rebuilt once per run this worker serves (replicas serve many); the
        wire form starts with the run's name."""
        facts = self._runs.get(wire[0])
        if facts is None:
            facts = self._runs[wire[0]] = RunFacts.from_wire(wire)
        return facts

    def _setup(self, message: Setup) -> None:
        for name in message.unset:
            os.environ.pop(name, None)
        os.environ.update(message.env)
        isolation.apply_secrets(message.secrets)
        isolation.apply_limits(message.limits)
        store = message.store
        if store is not None:
            self._store = StoreConfig(home=Path(store.home), raw_data_url=store.raw_data_url)

    def action_ended(self, action_id: str) -> None:
        self._running.pop(action_id, None)
        # A warm replica's next request usually follows at once: wait for it awake.
        expect_answer(self.loop)

    def awaiting_reply(self) -> None:
        expect_answer(self.loop)


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
