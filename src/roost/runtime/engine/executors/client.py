"""The client executor: the root action of a hybrid run on a server runs in the client that
started the run, which acts as that action's worker from the other end of the server's API.

The attempt goes to the client as the ``RunRequest`` a worker process gets; the client's messages
come back as a worker's would -- task calls (run here as child actions, answered with
``CallReply``), output lines, traced calls, and ``ActionDone`` / ``ActionFailed``. Messages travel
as ``RunMessages`` through the ``ClientChannel`` of the process (the bundle host sets it: it sends
them to the server, which holds them for the client).
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from roost.runtime import values
from roost.runtime.engine.executors.contract import Attempt, AttemptReport
from roost.runtime.messages import (
    ActionDone,
    ActionFailed,
    CallRequest,
    LogLine,
    Message,
    Shutdown,
    TaskRef,
    TraceBegin,
    TraceEnd,
)
from roost.runtime.wire import exception_from_wire
from roost.store.records import LogRecord


class ClientChannel(Protocol):
    def send(self, run_name: str, message: Message) -> None:
        """Queue ``message`` for the client of ``run_name``."""


class _Pending:
    __slots__ = ("attempt", "ended", "report")

    def __init__(self, attempt: Attempt, report: AttemptReport, ended: asyncio.Future[values.EncodedOutputs]):
        self.attempt = attempt
        self.report = report
        self.ended = ended


_channel: ClientChannel | None = None
# The root attempt each hybrid run of this process is waiting on its client for, by run name.
_pending: dict[str, _Pending] = {}


def set_channel(channel: ClientChannel) -> None:
    global _channel
    _channel = channel


class ClientExecutor:
    name = "client"

    async def run(self, attempt: Attempt, report: AttemptReport) -> values.EncodedOutputs:
        if _channel is None:
            raise RuntimeError("mode='hybrid' runs its root action in a client, and this process has none")
        ended: asyncio.Future[values.EncodedOutputs] = asyncio.get_running_loop().create_future()
        _pending[attempt.run_name] = _Pending(attempt, report, ended)
        report.node("client")
        # The client has the task's code: the reference names it only (the module is the bundle's).
        _channel.send(attempt.run_name, attempt.request(TaskRef(name=attempt.spec.name)))
        try:
            return await ended
        except asyncio.CancelledError:
            _channel.send(attempt.run_name, Shutdown())  # aborted here: the client stops its code
            raise
        finally:
            _pending.pop(attempt.run_name, None)


async def deliver(run_name: str, message: Message) -> None:
    """A message from the client of ``run_name``'s root action (on the runtime loop)."""
    pending = _pending.get(run_name)
    if pending is None:  # the attempt ended meanwhile (aborted, timed out): nothing waits for it
        return
    report, attempt = pending.report, pending.attempt
    if isinstance(message, CallRequest):
        reply = await report.call(message)
        assert _channel is not None
        _channel.send(run_name, reply)
    elif isinstance(message, LogLine):
        report.log(LogRecord(run_name, message.id, message.attempt, message.ts, message.stream, message.line))
    elif isinstance(message, (TraceBegin, TraceEnd)):
        report.trace(message)
    elif isinstance(message, ActionDone) and message.id == attempt.action_id:
        if not pending.ended.done():
            pending.ended.set_result(values.EncodedOutputs(message.outputs))
    elif isinstance(message, ActionFailed) and message.id == attempt.action_id and not pending.ended.done():
        pending.ended.set_exception(exception_from_wire(message.error))
