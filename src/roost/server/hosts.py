"""The server's bundle hosts (``bundle_host.py``): one process per code bundle, started when its first
run is submitted and kept while the server runs, so that its pools stay warm across runs."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from roost.errors import RemoteTaskNotFoundError
from roost.runtime import messages
from roost.runtime.engine.condition_waits import SERVER_URL_ENV
from roost.runtime.frames import MessageProtocol, encode
from roost.runtime.ids import ROOT_ACTION
from roost.runtime.wire import error_to_wire
from roost.server.bundle_host import BASE_OPTIONS_ENV
from roost.server.bundle_store import BundleStore

logger = logging.getLogger("roost.server")

# How long a new host may take to import roost and say it is ready.
START_TIMEOUT_S = 60.0
# How long the client of a hybrid run may stay silent (it asks every second) before its root action
# is failed.
CLIENT_GONE_S = float(os.environ.get("ROOST_HYBRID_CLIENT_GONE_S", "30"))


class HostGone(Exception):
    """A bundle host ended (or could not start) before it answered."""


@dataclasses.dataclass
class _Host:
    bundle: str | None
    process: subprocess.Popen[bytes]
    protocol: MessageProtocol
    ready: asyncio.Future[None]
    waiting: dict[str, asyncio.Future[messages.Message]] = dataclasses.field(default_factory=dict)
    gone: bool = False
    modules: set[str] = dataclasses.field(default_factory=set)  # the task modules it was sent runs of


class Hosts:
    """Starts bundle hosts and hands them runs. Lives on the server's event loop."""

    def __init__(
        self,
        bundles: BundleStore,
        home: Path,
        run_options: dict[str, Any] | None = None,
        on_run_ended: Callable[[str], None] | None = None,
        deployed: Callable[[str, str | None], Any] | None = None,
    ):
        self._on_run_ended = on_run_ended
        # Also told of every run a host says ended (the app manager: its replicas' runs).
        self.run_ended_listeners: list[Callable[[str], None]] = []
        self.url = ""  # the server's own URL, once it is bound
        # Deployed tasks by (name, version; None: the newest): registry.DeployedTask or None.
        self._deployed = deployed
        # Calls of deployed tasks in flight: (run, action) -> (the host that called, the host running it).
        self._deployed_calls: dict[tuple[str, str], tuple[_Host, _Host | None]] = {}
        self._routing: set[asyncio.Task[None]] = set()
        # Image builds of deployments: id -> None while building, then what it did.
        self._builds: dict[str, messages.ImagesBuilt | None] = {}
        self._build_hosts: dict[str, _Host] = {}
        self._bundles = bundles
        self._home = home
        self._run_options = run_options or {}
        self._hosts: dict[str | None, _Host] = {}
        self._starting: dict[str | None, asyncio.Lock] = {}
        # Hybrid runs: the host running each, and the messages its host holds for its client.
        self._run_hosts: dict[str, _Host] = {}
        self._for_client: dict[str, list[messages.Message]] = {}
        self._arrived: dict[str, asyncio.Event] = {}
        # Clients waiting for a run to end (GET /api/v1/runs/{run}?wait=), woken by its host's RunEnded.
        self._ending: dict[str, asyncio.Event] = {}
        self._last_seen: dict[str, float] = {}  # when each hybrid run's client last asked
        self._watcher: asyncio.Task[None] | None = None

    async def submit(self, submission: messages.SubmitRun) -> messages.RunAccepted | messages.RunRefused:
        """Hand a run (its name chosen) to its bundle's host; its answer once the run is recorded."""
        assert submission.name
        for attempt in range(2):
            host = await self._host_for(submission.bundle)
            if submission.module not in host.modules:
                host.modules.add(submission.module)
                self._drain_older(host, submission.module)
            future: asyncio.Future[messages.Message] = asyncio.get_running_loop().create_future()
            host.waiting[submission.name] = future
            host.protocol.transport.write(encode(submission))  # type: ignore[union-attr]
            try:
                reply = await future
            except HostGone:
                if attempt:  # a host that dies twice in a row will not run this
                    raise
                continue
            finally:
                host.waiting.pop(submission.name, None)
            assert isinstance(reply, (messages.RunAccepted, messages.RunRefused))
            if isinstance(reply, messages.RunAccepted) and submission.options.get("mode") == "hybrid":
                self._run_hosts[reply.name] = host
                self._last_seen[reply.name] = time.monotonic()
                if self._watcher is None or self._watcher.done():
                    self._watcher = asyncio.ensure_future(self._watch_clients())
            return reply
        raise AssertionError("unreachable")

    async def start_app(self, bundle: str | None, request: messages.StartApp) -> messages.Message:
        """Have the host of ``bundle`` serve a replica of an app: ``RunAccepted`` once its run is
        recorded, or ``RunRefused`` saying why not (``HostGone`` when the host died meanwhile)."""
        host = await self._host_for(bundle)
        future: asyncio.Future[messages.Message] = asyncio.get_running_loop().create_future()
        host.waiting[request.run] = future
        self._send(host, request)
        try:
            return await future
        finally:
            host.waiting.pop(request.run, None)

    def _drain_older(self, newer: _Host, module: str) -> None:
        """A module now runs from a new code bundle: the hosts of older bundles that ran it are a
        previous version of the same code. They take no more runs, finish theirs, and exit -- and
        with them go the replicas of their reusable environments."""
        for bundle, host in list(self._hosts.items()):
            if host is not newer and module in host.modules:
                del self._hosts[bundle]
                if host.protocol.transport is not None and not host.gone:
                    host.protocol.transport.write(encode(messages.Shutdown()))
                logger.info("bundle host %s drains: %s runs from a newer bundle now", host.process.pid, module)

    async def _host_for(self, bundle: str | None) -> _Host:
        host = self._hosts.get(bundle)
        if host is not None and not host.gone:
            return host
        lock = self._starting.setdefault(bundle, asyncio.Lock())
        async with lock:
            host = self._hosts.get(bundle)
            if host is None or host.gone:
                host = self._hosts[bundle] = await self._start(bundle)
        return host

    async def _start(self, bundle: str | None) -> _Host:
        folder = self._bundles.folder(bundle) if bundle is not None else Path.cwd()
        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        env[BASE_OPTIONS_ENV] = json.dumps(self._run_options)
        if self.url:
            env[SERVER_URL_ENV] = self.url  # where a condition's webhook callback signals it
        env["ROOST_HOME"] = str(self._home)
        process = subprocess.Popen(
            [sys.executable, "-m", "roost.server.bundle_host", str(theirs.fileno())],
            cwd=folder,
            env=env,
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL,
            # What runs print is in the store (roost get logs); the server's own output stays its own.
            stdout=subprocess.DEVNULL,
        )
        theirs.close()
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_connection(MessageProtocol, sock=ours)
        host = _Host(bundle, process, protocol, loop.create_future())
        protocol.attach(lambda message: self._on_message(host, message), lambda: self._on_close(host))
        try:
            await asyncio.wait_for(asyncio.shield(host.ready), START_TIMEOUT_S)
        except (asyncio.TimeoutError, HostGone):
            process.kill()
            raise HostGone(f"the bundle host for {bundle or 'installed code'} did not start") from None
        logger.info("bundle host %s started for %s", process.pid, bundle or "installed code")
        return host

    def _on_message(self, host: _Host, message: messages.Message) -> None:
        if isinstance(message, messages.Ready):
            if not host.ready.done():
                host.ready.set_result(None)
        elif isinstance(message, messages.RunEnded):
            if self._on_run_ended is not None:
                self._on_run_ended(message.name)
            for listener in self.run_ended_listeners:
                listener(message.name)
            ending = self._ending.pop(message.name, None)
            if ending is not None:
                ending.set()
        elif isinstance(message, messages.RunMessages):
            self._for_client.setdefault(message.run, []).extend(message.messages)
            self._arrived.setdefault(message.run, asyncio.Event()).set()
        elif isinstance(message, messages.ImagesBuilt):
            if message.build in self._builds:
                self._builds[message.build] = message
            self._build_hosts.pop(message.build, None)
        elif isinstance(message, messages.CallDeployed):
            routing = asyncio.ensure_future(self._call_deployed(host, message))
            self._routing.add(routing)  # held until done: the loop keeps only weak references
            routing.add_done_callback(self._routing.discard)
        elif isinstance(message, messages.DeployedCallEnded):
            caller, _ = self._deployed_calls.pop((message.run, message.action_id), (None, None))
            if caller is not None:
                self._send(caller, message)
        elif isinstance(message, (messages.RunAccepted, messages.RunRefused)):
            future = host.waiting.get(message.name)
            if future is not None and not future.done():
                future.set_result(message)

    async def _call_deployed(self, caller: _Host, call: messages.CallDeployed) -> None:
        """An action of a run ``caller`` drives calls a deployed task: the host of that task's code runs
        it (started if need be), and ``caller`` hears how it ended."""
        key = (call.run, call.action_id)
        self._deployed_calls[key] = (caller, None)
        try:
            task = self._deployed(call.task, call.version) if self._deployed is not None else None
            if task is None:
                which = f"version {call.version!r} of " if call.version else ""
                raise RemoteTaskNotFoundError(f"{which}task {call.task!r} is not deployed on this server")
            call.bundle, call.module, call.version = task.bundle, task.module, task.version
            target = await self._host_for(task.bundle)
        except Exception as e:
            self._deployed_calls.pop(key, None)
            self._send(caller, messages.DeployedCallEnded(call.run, call.action_id, error=error_to_wire(e)))
            return
        if key in self._deployed_calls:  # its caller may have gone meanwhile
            self._deployed_calls[key] = (caller, target)
            self._send(target, call)

    async def build_images(self, bundle: str | None, modules: dict[str, list[str]]) -> str:
        """Have the host of ``bundle`` build the images of these tasks (module -> names); the build's id."""
        build = uuid.uuid4().hex
        host = await self._host_for(bundle)
        if len(self._builds) >= 1000:  # what old builds did is forgotten (their clients have read it)
            for old in [b for b, state in self._builds.items() if state is not None][:500]:
                del self._builds[old]
        self._builds[build] = None
        self._build_hosts[build] = host
        self._send(host, messages.BuildImages(build, modules))
        return build

    def build_state(self, build: str) -> messages.ImagesBuilt | None:
        """What the build did; None while it goes on; KeyError for no such build."""
        return self._builds[build]

    def _send(self, host: _Host, message: messages.Message) -> None:
        if host.protocol.transport is not None and not host.gone:
            host.protocol.transport.write(encode(message))

    def _on_close(self, host: _Host) -> None:
        host.gone = True
        asyncio.get_running_loop().run_in_executor(None, host.process.wait)  # reaped, never a zombie
        if self._hosts.get(host.bundle) is host:
            del self._hosts[host.bundle]
        gone = HostGone(f"the bundle host {host.process.pid} ended")
        if not host.ready.done():
            host.ready.set_exception(gone)
            host.ready.exception()  # retrieved: nobody else may wait on it
        for future in host.waiting.values():
            if not future.done():
                future.set_exception(gone)
        for build, builder in list(self._build_hosts.items()):
            if builder is host:
                del self._build_hosts[build]
                self._builds[build] = messages.ImagesBuilt(build, [f"{gone} while it built images"], ["*"])
        for key, (caller, target) in list(self._deployed_calls.items()):
            if caller is host:  # its run goes on in no process of this host: nobody waits for the answer
                del self._deployed_calls[key]
            elif target is host:  # the action it ran is lost with it: its caller hears so
                del self._deployed_calls[key]
                lost = messages.WireError("DeployedTaskHostGone", "system", f"{gone}: it was running action {key[1]}")
                self._send(caller, messages.DeployedCallEnded(key[0], key[1], error=lost))

    def ending(self, run: str) -> asyncio.Event:
        """Set when a host says ``run`` ended (runs of other processes are not announced)."""
        return self._ending.setdefault(run, asyncio.Event())

    def stop_waiting(self, run: str) -> None:
        self._ending.pop(run, None)

    async def exchange(self, run: str, outgoing: list[messages.Message], wait: float) -> list[messages.Message]:
        """Pass a hybrid run's client messages to its host; what the host holds for the client,
        waiting up to ``wait`` seconds for something when it holds nothing."""
        host = self._run_hosts.get(run)
        if host is None or host.gone:
            raise KeyError(run)
        self._last_seen[run] = time.monotonic()
        if outgoing:
            host.protocol.transport.write(encode(messages.RunMessages(run, outgoing)))  # type: ignore[arg-type, union-attr]
        arrived = self._arrived.setdefault(run, asyncio.Event())
        if not self._for_client.get(run) and wait > 0:
            try:
                await asyncio.wait_for(arrived.wait(), wait)
            except asyncio.TimeoutError:
                pass
        arrived.clear()
        held = self._for_client.pop(run, [])
        if any(isinstance(m, messages.Shutdown) for m in held):
            self.forget(run)
        return held

    async def _watch_clients(self) -> None:
        """Fail the root action of a hybrid run whose client stopped asking (it died, or lost the
        network for longer than ``CLIENT_GONE_S``): its run ends instead of waiting forever."""
        while self._run_hosts:
            await asyncio.sleep(CLIENT_GONE_S / 6)
            now = time.monotonic()
            for run, seen in list(self._last_seen.items()):
                host = self._run_hosts.get(run)
                if host is None or now - seen < CLIENT_GONE_S:
                    continue
                why = f"the client of hybrid run {run} stopped answering {CLIENT_GONE_S:.0f} s ago"
                gone = messages.ActionFailed(ROOT_ACTION, messages.WireError("ClientGone", "system", why))
                if host.protocol.transport is not None and not host.gone:
                    host.protocol.transport.write(encode(messages.RunMessages(run, [gone])))
                self.forget(run)

    def forget(self, run: str) -> None:
        """The hybrid run ended: nothing more goes between its client and its host."""
        self._last_seen.pop(run, None)
        self._run_hosts.pop(run, None)
        self._for_client.pop(run, None)
        self._arrived.pop(run, None)

    def pids(self) -> dict[str, int]:
        return {bundle or "installed": host.process.pid for bundle, host in self._hosts.items()}

    async def close(self, timeout: float = 2.0) -> None:
        """Tell every host to stop: each finishes the runs it has, then exits (by itself: the server
        does not wait for long runs). Hosts with nothing to finish are waited for up to ``timeout``."""
        hosts = list(self._hosts.values())
        for host in hosts:
            if host.protocol.transport is not None:
                host.protocol.transport.write(encode(messages.Shutdown()))
        deadline = asyncio.get_running_loop().time() + timeout
        while any(h.process.poll() is None for h in hosts) and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
