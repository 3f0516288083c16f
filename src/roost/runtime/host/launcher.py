"""Controller side of worker processes: start a template per interpreter, fork workers from it, and
learn how each worker ended (the template is their parent, so it reports their exit status, and
whether the kernel killed it in its cgroup for passing its memory limit).

Whether a worker's limits go to a cgroup is decided here, for each fork, from ``ROOST_CGROUPS`` in
this process's environment (cgroups.py), so one template serves both settings."""

from __future__ import annotations

import asyncio
import atexit
import itertools
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from roost.errors import RuntimeSystemError
from roost.runtime import messages
from roost.runtime.frames import MessageProtocol, connect
from roost.runtime.messages import Exited, Fork, Forked, Message, Ready

logger = logging.getLogger("roost")

_MAX_MESSAGE = 1 << 20
# Set in template and worker processes: roost refuses to start runs there (see runner).
WORKER_ENV = "ROOST_WORKER_PROCESS"
_READY_TIMEOUT = 60.0


def describe_exit(status: int) -> str:
    if status < 0:
        try:
            name = signal.Signals(-status).name
        except ValueError:
            name = f"signal {-status}"
        return f"was killed by signal {-status} ({name})"
    return f"exited with code {status}"


@dataclass
class WorkerProcess:
    """One forked worker: its pid and the connection to talk to it."""

    pid: int
    connection: MessageProtocol
    template: TemplateProcess
    killed_for: str | None = field(default=None)

    def send(self, message: Message) -> None:
        self.connection.send(message)

    def kill(self, reason: str) -> None:
        """SIGKILL the worker (a timeout, an abort, a memory limit); ``reason`` explains its death."""
        if self.killed_for is None:
            self.killed_for = reason
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    async def exit_status(self) -> int:
        return await self.template.wait_exit(self.pid)

    def close(self) -> None:
        self.connection.close()


class TemplateProcess:
    """A template process running ``python``; forks workers on request."""

    def __init__(
        self,
        python: str = sys.executable,
        env: dict[str, str] | None = None,
        *,
        extra_env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        startup_path: Collection[str] = (),
    ):
        """``extra_env`` and ``cwd`` come from the environment's image (roost.images.local);
        ``startup_path`` is what ``python`` has on sys.path by itself and is not repeated."""
        self.python = python
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        environment = dict(os.environ if env is None else env)
        environment.update(extra_env or {})
        # The workers import the user's modules exactly as the controller does. An image's
        # interpreter has its own packages first and the controller's after them (its .pth), so the
        # controller's package folders must not come back in front of them through PYTHONPATH.
        skip = set(startup_path)
        here = os.getcwd()  # '' means the controller's folder, which a workdir would change
        paths = [(p or here) for p in sys.path if (p or cwd is not None) and p not in skip]
        environment["PYTHONPATH"] = os.pathsep.join(paths)
        environment[WORKER_ENV] = "1"
        self._process = subprocess.Popen(
            [python, "-m", "roost.runtime.worker.template", str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            env=environment,
            cwd=cwd,
        )
        theirs.close()
        self._control = ours
        self._lock = threading.Lock()
        self._ids = itertools.count()
        self._pending: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Future[Any]]] = {}
        self._exits: dict[int, int] = {}
        # Per worker in use: the limits its cgroup enforces ({"memory": "v1", ...}), and whether the
        # kernel killed it for its memory (known with its exit).
        self._cgroups: dict[int, dict[str, str]] = {}
        self._oom_killed: set[int] = set()
        # Only the exits of workers still in use are kept: nobody asks how a finished worker ended.
        self._watched: set[int] = set()
        self._exit_waiters: dict[int, list[tuple[asyncio.AbstractEventLoop, asyncio.Future[int]]]] = {}
        self._ready = threading.Event()
        self._closed = False
        self._reader = threading.Thread(target=self._read_loop, name="roost-template-reader", daemon=True)
        self._reader.start()
        if not self._ready.wait(_READY_TIMEOUT) or self._closed:
            self.close()
            raise RuntimeSystemError("WorkerStartFailed", f"the worker template ({python}) did not start")

    def _read_loop(self) -> None:
        while True:
            try:
                data, fds, _flags, _addr = socket.recv_fds(self._control, _MAX_MESSAGE, 1)
            except OSError:
                data, fds = b"", []
            if not data:
                self._closed = True
                self._ready.set()
                self._fail_all()
                return
            try:
                message = messages.decode(data)
            except messages.ProtocolError as e:
                logger.error("the worker template (pid %s) sent a bad message: %s", self._process.pid, e)
                self.close()
                continue
            if isinstance(message, Ready):
                self._ready.set()
            elif isinstance(message, Forked):
                pid = message.pid
                if pid is not None:
                    # Watched from now: a worker that dies at once is reported right after this
                    # message, before the forking coroutine could start watching it.
                    with self._lock:
                        self._watched.add(pid)
                self._resolve(message.id, (pid, fds[0] if fds else None, message.error, message.cgroup))
            elif isinstance(message, Exited):
                self._record_exit(message.pid, message.status, message.oom)

    def _resolve(self, request: int, value: Any) -> None:
        with self._lock:
            entry = self._pending.pop(request, None)
        if entry is not None:
            loop, future = entry
            loop.call_soon_threadsafe(_set_result, future, value)

    def _record_exit(self, pid: int, status: int, oom: bool = False) -> None:
        with self._lock:
            if pid not in self._watched:
                return
            self._exits[pid] = status
            if oom:
                self._oom_killed.add(pid)
            waiters = self._exit_waiters.pop(pid, [])
        for loop, future in waiters:
            loop.call_soon_threadsafe(_set_result, future, status)

    def _fail_all(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
            waiters, self._exit_waiters = self._exit_waiters, {}
        for loop, future in pending.values():
            loop.call_soon_threadsafe(_set_result, future, (None, None, "the worker template exited", None))
        for entries in waiters.values():
            for loop, future in entries:
                loop.call_soon_threadsafe(_set_result, future, -int(signal.SIGKILL))

    async def fork(self, preload: list[str], limits: Mapping[str, int | None] | None = None) -> WorkerProcess:
        """A new worker, forked from a template that has imported ``preload`` (done once per module).

        ``limits`` ({"memory": bytes, "cpu": millicores}) go to a cgroup of the worker's own where the
        template can make one and ``ROOST_CGROUPS`` does not say no; ``cgroup_of(pid)`` tells which
        did -- the others are the caller's to enforce (the memory watchdog, CPU affinity)."""
        from roost.runtime.host import cgroups  # here: a process that forks no worker does not import it

        request_limits = dict(limits) if limits and cgroups.wanted() else None
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        request = next(self._ids)
        with self._lock:
            if self._closed:
                raise RuntimeSystemError("WorkerStartFailed", "the worker template is not running")
            self._pending[request] = (loop, future)
        self._control.send(messages.encode(Fork(request, preload, request_limits)))
        pid, fd, error, cgroup = await future
        if error is not None or fd is None:
            raise RuntimeSystemError("WorkerStartFailed", f"could not start a worker: {error}")
        with self._lock:
            self._watched.add(pid)
            if cgroup:
                self._cgroups[pid] = dict(cgroup)
        sock = socket.socket(fileno=fd)
        return WorkerProcess(pid, await connect(sock), self)

    async def wait_exit(self, pid: int) -> int:
        loop = asyncio.get_running_loop()
        with self._lock:
            if pid in self._exits:
                return self._exits[pid]
            future: asyncio.Future[int] = loop.create_future()
            self._exit_waiters.setdefault(pid, []).append((loop, future))
        return await future

    def cgroup_of(self, pid: int) -> dict[str, str]:
        """The limits of worker ``pid`` its cgroup enforces, by controller: {"memory": "v2", "cpu": "v2"};
        empty when it has no cgroup."""
        with self._lock:
            return dict(self._cgroups.get(pid, {}))

    def oom_killed(self, pid: int) -> bool:
        """Whether the kernel killed worker ``pid`` in its cgroup for passing its memory limit (known
        once ``wait_exit(pid)`` has returned)."""
        with self._lock:
            return pid in self._oom_killed

    def forget(self, pid: int) -> None:
        """A worker no longer in use: drop what is known of it, and anything that arrives later."""
        with self._lock:
            self._watched.discard(pid)
            self._exits.pop(pid, None)
            self._cgroups.pop(pid, None)
            self._oom_killed.discard(pid)

    def close(self) -> None:
        self._closed = True
        try:
            # shutdown() first: close() alone is deferred while the reader thread is blocked in
            # recv on this socket, so the template would not see EOF until the wait below timed out.
            self._control.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self._control.close()  # the template sees EOF, kills its workers and exits
        except OSError:
            pass
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()


def _set_result(future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():
        future.set_result(value)


_TEMPLATES: dict[tuple[str, tuple[tuple[str, str], ...], str | None], TemplateProcess] = {}
_TEMPLATES_LOCK = threading.Lock()


def template_for(
    python: str = sys.executable,
    env: tuple[tuple[str, str], ...] = (),
    cwd: str | None = None,
    startup_path: Collection[str] = (),
) -> TemplateProcess:
    """The process-wide template of an interpreter with these added variables and working folder
    (an image's, see roost.images.local.LocalImage), started on first use."""
    key = (python, env, cwd)
    with _TEMPLATES_LOCK:
        template = _TEMPLATES.get(key)
        if template is None or template._closed:
            template = _TEMPLATES[key] = TemplateProcess(
                python, extra_env=dict(env), cwd=cwd, startup_path=startup_path
            )
        return template


@atexit.register
def _close_templates() -> None:
    for template in list(_TEMPLATES.values()):
        template.close()
    _TEMPLATES.clear()
