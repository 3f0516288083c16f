"""WorkerConnection: the controller's conversation with one worker process.

What a worker sends -- log lines, nested task calls, results -- is routed to the action it belongs
to as it arrives, inside the event loop's read callback; several actions may share a worker (a
reusable replica with concurrency > 1). If the worker dies, every action still on it fails with an error that says how.
A memory limit is the kernel's to enforce where the worker has a cgroup (cgroups.py: an OOMError says
the kernel killed it there); otherwise the watchdog here samples its resident memory and kills it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from typing import Any, Protocol

from roost.errors import OOMError, RuntimeSystemError, WorkerCrashedError
from roost.runtime import values
from roost.runtime.host.launcher import WorkerProcess, describe_exit
from roost.runtime.messages import (
    ActionDone,
    ActionFailed,
    CallReply,
    CallRequest,
    LogLine,
    Message,
    RunRequest,
    Setup,
    Shutdown,
    TaskRef,
    TraceBegin,
    TraceEnd,
)
from roost.runtime.polling import expect_answer
from roost.runtime.wire import exception_from_wire
from roost.spec.quantities import format_bytes
from roost.store.records import LogRecord

logger = logging.getLogger("roost")


class AttemptLike(Protocol):
    """What a connection needs of an attempt (executors.contract.Attempt): the host side of a worker
    does not import the engine."""

    run_name: str
    action_id: str

    def request(self, task: TaskRef) -> RunRequest: ...


class AttemptReport(Protocol):
    """The part of an attempt's report (executors.contract.AttemptReport) a worker's messages reach."""

    def log(self, record: LogRecord) -> None: ...

    def trace(self, note: TraceBegin | TraceEnd) -> None: ...

    async def call(self, request: CallRequest) -> CallReply: ...


# How often the memory watchdog samples a worker's resident memory.
WATCH_INTERVAL = 0.05
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


_HAS_PROC = os.path.isdir("/proc/self")
_warned_unwatched = False


def _warn_unwatched() -> None:
    global _warned_unwatched
    if not _warned_unwatched:
        _warned_unwatched = True
        logger.warning(
            "memory limits are not enforced on this platform: it has neither cgroups nor /proc to watch "
            "a worker's resident memory"
        )


def rss_bytes(pid: int) -> int | None:
    """Resident memory of a process (Linux /proc), or None once it is gone."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return None


class WorkerConnection:
    def __init__(self, worker: WorkerProcess, memory_limit: int | None = None, label: str = ""):
        self.worker = worker
        self.pid = worker.pid
        self.memory_limit = memory_limit
        self.label = label
        # The attempts running here, by action id: what they report to, and their outcome to be.
        self._actions: dict[str, tuple[AttemptLike, AttemptReport, asyncio.Future[values.EncodedOutputs]]] = {}
        self._calls: set[asyncio.Task[None]] = set()
        self._loop = asyncio.get_running_loop()
        self.death: asyncio.Future[BaseException] = self._loop.create_future()
        self._ending: asyncio.Task[None] | None = None
        self._shut = False
        # One handler per kind of message a worker sends.
        self._handlers: dict[type[Message], Any] = {
            ActionDone: self._on_done,
            ActionFailed: self._on_failed,
            LogLine: self._on_log,
            CallRequest: self._on_call,
            TraceBegin: self._on_trace,
            TraceEnd: self._on_trace,
        }
        worker.connection.attach(self._on_message, self._on_close)
        # Which limits the worker's cgroup enforces ({"memory": "v1", ...}); the kernel then kills it at
        # its memory limit, and the RSS watchdog is only for workers without one.
        self.cgroup = worker.template.cgroup_of(worker.pid)
        watch = memory_limit is not None and "memory" not in self.cgroup
        self._watcher = asyncio.ensure_future(self._watch_memory()) if watch else None

    @property
    def alive(self) -> bool:
        # A worker being killed is dead to new work at once, before its end is even noticed.
        return not self.death.done() and self.worker.killed_for is None

    @property
    def busy(self) -> int:
        return len(self._actions)

    def setup(self, message: Setup) -> None:
        self.worker.send(message)

    async def run(self, attempt: AttemptLike, report: AttemptReport, task_ref: TaskRef) -> values.EncodedOutputs:
        """Run ``attempt`` on this worker; its packed outputs, or the error it (or the worker) ended with."""
        if not self.alive:
            raise self.death.result()
        result: asyncio.Future[values.EncodedOutputs] = self._loop.create_future()
        self._actions[attempt.action_id] = (attempt, report, result)
        self.worker.send(attempt.request(task_ref))
        expect_answer(self._loop)
        try:
            return await result
        finally:
            self._actions.pop(attempt.action_id, None)

    def kill(self, reason: str) -> None:
        self.worker.kill(reason)

    def shutdown(self) -> None:
        """Ask the worker to exit; kill it if it still holds actions."""
        self._shut = True
        if self._actions:
            self.kill("shutdown")
        elif self.alive:
            with contextlib.suppress(OSError, RuntimeError):
                self.worker.send(Shutdown())
        self.worker.close()
        self.worker.template.forget(self.pid)
        for task in (self._ending, self._watcher, *self._calls):
            if task is not None:
                task.cancel()

    # -- what the worker says ----------------------------------------------------------------------
    def _on_message(self, message: Message) -> None:
        handler = self._handlers.get(type(message))
        if handler is None:
            logger.warning("worker %s sent a %s, which workers do not send: ignored", self.pid, type(message).__name__)
            return
        handler(message)

    # Each handler looks its attempt up in ``_actions``: none found means the message is about an
    # attempt that already ended here (an abort, a timeout).
    def _on_done(self, message: ActionDone) -> None:
        entry = self._actions.get(message.id)
        if entry is not None and not entry[2].done():
            entry[2].set_result(values.EncodedOutputs(message.outputs))

    def _on_failed(self, message: ActionFailed) -> None:
        entry = self._actions.get(message.id)
        if entry is not None and not entry[2].done():
            entry[2].set_exception(exception_from_wire(message.error))

    def _on_log(self, message: LogLine) -> None:
        entry = self._actions.get(message.id)
        if entry is not None:
            run_name = entry[0].run_name
            entry[1].log(LogRecord(run_name, message.id, message.attempt, message.ts, message.stream, message.line))

    def _on_call(self, message: CallRequest) -> None:
        entry = self._actions.get(message.parent)
        if entry is not None:
            call = asyncio.ensure_future(self._serve_call(entry[1], message))
            self._calls.add(call)
            call.add_done_callback(self._calls.discard)

    def _on_trace(self, message: TraceBegin | TraceEnd) -> None:
        entry = self._actions.get(message.parent)
        if entry is not None:
            entry[1].trace(message)

    def _on_close(self) -> None:
        # After shutdown() nobody waits on this worker: its end needs no explaining.
        if self._ending is None and not self._shut:
            self._ending = asyncio.ensure_future(self._died())

    async def _serve_call(self, report: AttemptReport, message: CallRequest) -> None:
        """A task called by the worker's code: a child action of the attempt's, run by its controller."""
        reply = await report.call(message)
        if self.alive:
            self.worker.send(reply)

    async def _died(self) -> None:
        broken = self.worker.connection.error
        if broken is not None:
            self.kill("protocol")  # nothing it says can be trusted any more
        status = await self.worker.exit_status()
        error: BaseException
        if broken is not None:
            error = RuntimeSystemError(
                "ProtocolError", f"the worker running {self.label} (pid {self.pid}) sent a bad frame: {broken}"
            )
        elif self.memory_limit is not None and self.worker.template.oom_killed(self.pid):
            error = OOMError(
                "OOMKilled",
                f"{self.label} used more than its memory limit of {format_bytes(self.memory_limit)} "
                f"({self.memory_limit} bytes); the kernel killed its worker process (pid {self.pid}) in the "
                f"cgroup that enforces the limit (cgroup {self.cgroup.get('memory', 'v2')})",
            )
        elif self.worker.killed_for == "memory" and self.memory_limit is not None:
            error = OOMError(
                "OOMKilled",
                f"{self.label} used more than its memory limit of {format_bytes(self.memory_limit)} "
                f"({self.memory_limit} bytes); its worker process (pid {self.pid}) was killed by roost's "
                "memory watchdog (no writable cgroup, or ROOST_CGROUPS=0)",
            )
        else:
            error = WorkerCrashedError(
                f"the worker process running {self.label} (pid {self.pid}) {describe_exit(status)} "
                "before returning a result"
            )
        if not self.death.done():
            self.death.set_result(error)
        for _, _, future in list(self._actions.values()):
            if not future.done():
                future.set_exception(error)

    async def _watch_memory(self) -> None:
        """Kill the worker when its resident memory passes the memory limit."""
        assert self.memory_limit is not None
        while self.alive:
            rss = rss_bytes(self.pid)
            if rss is None:
                if not _HAS_PROC:
                    _warn_unwatched()
                return
            if rss > self.memory_limit:
                self.kill("memory")
                return
            await asyncio.sleep(WATCH_INTERVAL)
