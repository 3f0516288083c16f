"""The replicas of the apps a server runs, and how many there are.

A replica is the run a local ``flyte.serve`` makes -- the app runtime in a worker set up with the app's
settings -- started by the bundle host of the app's code (``StartApp``) under a run name and on a port
the server chose. It is *starting* until its port answers HTTP (and its health path does not fail),
then *ready*, then *stopping* (SIGTERM to its process, its run aborted after a grace).

On a server with a Ray cluster (``--ray``) the replica's worker starts the app on a node of the
cluster (``runtime/worker/app_on_ray.py``) and writes the node's address into a file the server
named; the replica is reached there from then on (its port on the server's machine is unused).

How many (``Scaling``): never fewer than ``min`` while the app is active, never more than ``max``.
A request that finds no ready replica waits for one (a cold start), and one that finds every ready
replica at its target while another may start waits for the new one: with ``Concurrency(n)`` a
replica's target is ``n`` requests in flight (100 without a metric), with ``RequestRate(r)`` the app
wants one replica per ``r`` requests in the last second. A replica idle for ``scaledown_after``
(300 s by default) stops while more than ``min`` run: back down after a burst, and to zero. A replica
that fails to start, or whose run ends while nobody stopped it, is restarted with backoff (0.5 s
doubling to 30 s) while the app needs it; the requests waiting meanwhile get 503 with the reason.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import math
import os
import shutil
import socket
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool

from roost.runtime import messages
from roost.runtime.ids import new_run_name
from roost.runtime.runs.app_serving import signal_app
from roost.runtime.worker.app_on_ray import ADDRESS_FILE_ENV
from roost.server.app_table import AppSpec, AppTable
from roost.server.hosts import HostGone, Hosts
from roost.server.replica_client import ReplicaError, ReplicaPool
from roost.store.run_store import RunStore

logger = logging.getLogger("roost.server")

DEFAULT_SCALEDOWN_S = float(os.environ.get("ROOST_APP_SCALEDOWN_S", "300"))
DEFAULT_CONCURRENCY = 100
STOP_GRACE_S = 10.0
TICK_S = 0.2
HEALTH_TIMEOUT_S = 2.0
BACKOFF_S = (0.5, 30.0)  # first, most


class Unavailable(Exception):
    """No replica can take the request: ``status`` and one line saying why."""

    def __init__(self, reason: str, status: int = 503):
        super().__init__(reason)
        self.status = status


@dataclass(eq=False)
class Replica:
    run: str
    port: int
    state: str = "starting"  # starting, ready, stopping
    host: str = "127.0.0.1"
    node: str | None = None  # where it runs, when not on this machine ("ray node ...")
    in_flight: int = 0
    last_used: float = field(default_factory=time.monotonic)
    ready_at: float | None = None
    ended: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(eq=False)
class ServedApp:
    spec: AppSpec
    active: bool
    registered_at: float
    last_request: float | None = None  # wall time
    replicas: list[Replica] = field(default_factory=list)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    waiting: int = 0
    arrivals: collections.deque[float] = field(default_factory=collections.deque)
    failures: int = 0
    next_start_at: float = 0.0
    last_error: str | None = None
    runs: collections.deque[str] = field(default_factory=lambda: collections.deque(maxlen=20))
    saved_request: float | None = None

    def live(self) -> list[Replica]:
        return [r for r in self.replicas if r.state != "stopping"]

    def ready(self) -> list[Replica]:
        return [r for r in self.replicas if r.state == "ready"]

    def target(self) -> float:
        """Requests in flight a replica should carry before another starts."""
        metric = self.spec.metric
        if metric is None:
            return DEFAULT_CONCURRENCY
        return float(metric["value"]) if metric["kind"] == "concurrency" else math.inf

    def desired(self, now: float) -> int:
        """Replicas the current demand asks for, within (min, max)."""
        low, high = self.spec.replicas
        metric = self.spec.metric
        while self.arrivals and self.arrivals[0] < now - 1.0:
            self.arrivals.popleft()
        if metric is not None and metric["kind"] == "request_rate":
            wanted = math.ceil(len(self.arrivals) / metric["value"])
        else:
            demand = sum(r.in_flight for r in self.ready()) + self.waiting
            wanted = math.ceil(demand / self.target())
        return max(low, min(high, wanted))

    def state(self) -> str:
        if not self.active:
            return "stopped"
        if self.ready():
            return "active"
        if any(r.state == "starting" for r in self.replicas):
            return "starting"
        if self.last_error is not None and time.monotonic() < self.next_start_at:
            return "failed"
        return "idle"

    def scaledown_after(self) -> float:
        return self.spec.scaledown_after if self.spec.scaledown_after is not None else DEFAULT_SCALEDOWN_S


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class AppManager:
    """Every app of the server, its replicas, and the loop that scales them. Lives on the server's loop."""

    def __init__(self, table: AppTable, hosts: Hosts, store: RunStore, base_url: str, on_ray: bool = False):
        self.table = table
        # Replicas on Ray say where they listen in a file of this folder (one per replica's run).
        self._addresses = tempfile.mkdtemp(prefix="roost-app-addresses-") if on_ray else None
        self.hosts = hosts
        self.store = store
        self.base_url = base_url.rstrip("/")
        self.apps: dict[str, ServedApp] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._health = ReplicaPool()  # the proxy's HTTP/1.1 client, for the replicas' health checks
        hosts.run_ended_listeners.append(self.run_ended)

    # -- what the API and the proxy ask ----------------------------------------------------------------
    def url(self, name: str) -> str:
        return f"{self.base_url}/apps/{name}"

    def view(self, app: ServedApp) -> dict[str, Any]:
        low, high = app.spec.replicas
        return {
            "name": app.spec.name,
            "url": self.url(app.spec.name),
            "active": app.active,
            "state": app.state(),
            "ready": len(app.ready()),
            "total": len(app.replicas),
            "min": low,
            "max": high,
            "metric": app.spec.metric,
            "scaledown_after": app.scaledown_after(),
            "requires_auth": app.spec.requires_auth,
            "request_timeout": app.spec.request_timeout,
            "last_request": app.last_request,
            "last_error": app.last_error,
            "registered_at": app.registered_at,
            "bundle": app.spec.bundle,
            "module": app.spec.module,
            "runs": [r.run for r in app.replicas],
            "replicas": [
                {
                    "run": r.run,
                    "host": r.host,
                    "port": r.port,
                    "node": r.node or "this machine",
                    "state": r.state,
                    "in_flight": r.in_flight,
                }
                for r in app.replicas
            ],
        }

    def views(self) -> list[dict[str, Any]]:
        """Every app, as ``view`` shows it, by name."""
        return [self.view(app) for _, app in sorted(self.apps.items())]

    async def register(self, spec: AppSpec) -> ServedApp:
        """Serve ``spec`` (replacing what an app of that name served: its replicas stop)."""
        row = await run_in_threadpool(self.table.put, spec)
        old = self.apps.get(spec.name)
        app = self.apps[spec.name] = ServedApp(spec, True, row.registered_at)
        if old is not None:
            app.last_request, app.runs = old.last_request, old.runs
            old.active = False
            for replica in old.live():
                self._begin_stop(old, replica)
        self._fill(app)
        return app

    async def set_active(self, app: ServedApp, active: bool) -> None:
        await run_in_threadpool(self.table.set_active, app.spec.name, active)
        app.active = active
        if active:
            app.failures, app.next_start_at, app.last_error = 0, 0.0, None
            self._fill(app)
        else:
            for replica in app.live():
                self._begin_stop(app, replica)
        self._notify(app)

    async def acquire(self, app: ServedApp, timeout: float) -> Replica:
        """A ready replica for one request (counted in flight until ``release``), waiting for one to
        start when none is ready or every one is at its target and another may start."""
        if not app.active:
            raise Unavailable(f"app {app.spec.name} is stopped: `roost app start {app.spec.name}` starts it")
        now = time.monotonic()
        app.arrivals.append(now)
        app.last_request = time.time()
        deadline = now + timeout
        app.waiting += 1
        try:
            while True:
                ready = app.ready()
                best = min(ready, key=lambda r: r.in_flight) if ready else None
                if best is None or best.in_flight >= app.target():
                    self._fill(app)  # every ready replica is at its target: another, if it may
                starting = any(r.state == "starting" for r in app.replicas)
                if best is not None and (best.in_flight < app.target() or not starting):
                    best.in_flight += 1
                    best.last_used = time.monotonic()
                    return best
                if best is None and not starting:
                    raise Unavailable(app.last_error or f"app {app.spec.name} has no replica to serve")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Unavailable(f"app {app.spec.name} had no replica ready within {timeout:g} s")
                async with app.changed:
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(app.changed.wait(), left)
        finally:
            app.waiting -= 1

    def release(self, app: ServedApp, replica: Replica) -> None:
        replica.in_flight -= 1
        replica.last_used = time.monotonic()
        if app.waiting:  # a slot is free for a request that waits
            self._notify(app)

    # -- starting and stopping replicas ------------------------------------------------------------------
    def _fill(self, app: ServedApp) -> None:
        """Start replicas up to what the app wants now, unless it waits out a backoff."""
        if not app.active:
            return
        now = time.monotonic()
        missing = app.desired(now) - len(app.live())
        if missing > 0 and now >= app.next_start_at:
            for _ in range(missing):
                replica = Replica(f"app-{app.spec.name}-{new_run_name()[1:]}", free_port())
                app.replicas.append(replica)
                app.runs.append(replica.run)
                self._spawn(self._start(app, replica))

    async def _start(self, app: ServedApp, replica: Replica) -> None:
        spec = app.spec
        env_vars = dict(spec.env_vars)
        address_file = None
        if self._addresses is not None:
            address_file = os.path.join(self._addresses, replica.run)
            env_vars[ADDRESS_FILE_ENV] = address_file
        request = messages.StartApp(replica.run, spec.module, spec.name, replica.port, spec.parameters, env_vars)
        accepted = False
        try:
            try:
                reply = await self.hosts.start_app(spec.bundle, request)
            except HostGone as e:
                raise RuntimeError(str(e)) from None
            if isinstance(reply, messages.RunRefused):
                raise RuntimeError(reply.error.message)
            accepted = True
            deadline = time.monotonic() + spec.activate_timeout
            while not (
                self._located(replica, address_file)
                and await self._answers(replica.host, replica.port, spec.health_check_path)
            ):
                if replica.state == "stopping":  # stopped while it started (deactivated, replaced)
                    await self._stop(app, replica)  # again: the first may have come before its run
                    return
                if replica.ended.is_set():
                    lines = await run_in_threadpool(self._last_lines, replica.run)
                    raise RuntimeError("it stopped" + (f"; its last output: {lines}" if lines else ""))
                if time.monotonic() > deadline:
                    raise RuntimeError(f"it did not answer on its port within {spec.activate_timeout:g} s")
                await asyncio.sleep(0.02)
        except Exception as e:
            app.last_error = f"app {spec.name} did not start: {e}".splitlines()[0][:500]
            logger.warning("%s (run %s)", app.last_error, replica.run)
            self._failed(app)
            if replica in app.replicas:
                app.replicas.remove(replica)
            if accepted and not replica.ended.is_set():
                replica.state = "stopping"
                self._spawn(self._stop(app, replica, already_removed=True))
            self._notify(app)
            return
        if replica.state == "stopping":
            await self._stop(app, replica)
            return
        replica.state, replica.ready_at = "ready", time.monotonic()
        replica.last_used = replica.ready_at
        app.last_error = None
        where = f" ({replica.node})" if replica.node else ""
        logger.info("app %s: replica %s ready at %s:%s%s", spec.name, replica.run, replica.host, replica.port, where)
        self._notify(app)

    def _failed(self, app: ServedApp) -> None:
        app.failures += 1
        first, most = BACKOFF_S
        app.next_start_at = time.monotonic() + min(most, first * 2 ** (app.failures - 1))

    @staticmethod
    def _located(replica: Replica, address_file: str | None) -> bool:
        """Whether the replica's address is known: at once on this machine; on Ray once its worker
        wrote the node's address (``host port where``)."""
        if address_file is None or replica.node is not None:
            return True
        try:
            with open(address_file) as f:
                host, port, where = f.read().strip().split(" ", 2)
        except (OSError, ValueError):
            return False
        replica.host, replica.port, replica.node = host, int(port), where
        with contextlib.suppress(OSError):
            os.unlink(address_file)
        return True

    async def _answers(self, host: str, port: int, path: str) -> bool:
        headers = [(b"host", b"%s:%d" % (host.encode(), port))]
        try:
            request = self._health.send(port, b"GET", path.encode(), headers, None, host)
            response = await asyncio.wait_for(request, HEALTH_TIMEOUT_S)
        except (ReplicaError, asyncio.TimeoutError):
            return False
        response.abort()  # the status says it; the body is not wanted
        return response.status < 500

    def _last_lines(self, run: str) -> str:
        lines = [line.line for line in self.store.list_logs(run)][-3:]
        return " | ".join(lines)[-400:]

    def _begin_stop(self, app: ServedApp, replica: Replica) -> None:
        replica.state = "stopping"  # at once: no request goes to it any more, no second stop starts
        self._spawn(self._stop(app, replica))

    async def _stop(self, app: ServedApp, replica: Replica, already_removed: bool = False) -> None:
        """SIGTERM to the replica's process (its server stops, on_shutdown runs); its run aborted if it
        has not ended within the grace."""
        replica.state = "stopping"
        self._notify(app)
        try:
            if not replica.ended.is_set():
                signalled = await run_in_threadpool(signal_app, replica.run)
                if not signalled:
                    await run_in_threadpool(self.store.request_abort, replica.run)
                try:
                    await asyncio.wait_for(replica.ended.wait(), STOP_GRACE_S)
                except asyncio.TimeoutError:
                    await run_in_threadpool(self.store.request_abort, replica.run)
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(replica.ended.wait(), STOP_GRACE_S)
        finally:
            if not already_removed and replica in app.replicas:
                app.replicas.remove(replica)
            self._notify(app)

    def run_ended(self, run: str) -> None:
        """A host says a run ended: one of a replica, stopped -- or crashed, to be started again."""
        for app in self.apps.values():
            for replica in app.replicas:
                if replica.run == run:
                    self._ended(app, replica)
                    return

    def _ended(self, app: ServedApp, replica: Replica) -> None:
        replica.ended.set()
        if replica.state == "ready":  # nobody stopped it: it crashed
            if replica.ready_at is not None and time.monotonic() - replica.ready_at > 30:
                app.failures = 0  # it served a while: the backoff starts over
            app.last_error = f"app {app.spec.name}: replica {replica.run} stopped by itself"
            logger.warning("%s; starting another", app.last_error)
            app.replicas.remove(replica)
            self._failed(app)
        self._notify(app)

    def _notify(self, app: ServedApp) -> None:
        async def wake() -> None:
            async with app.changed:
                app.changed.notify_all()

        self._spawn(wake())

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)  # held until done: the loop keeps only weak references
        task.add_done_callback(self._tasks.discard)

    # -- the server's life ------------------------------------------------------------------------------
    def load(self) -> None:
        """The registered apps, known before the server answers its first request (none is a 404 then)."""
        for row in self.table.list():
            app = self.apps[row.spec.name] = ServedApp(row.spec, row.active, row.registered_at, row.last_request)
            app.saved_request = row.last_request

    async def run(self) -> None:
        """Serve the registered apps again (those active keep their minimum up), then scale them."""
        for app in list(self.apps.values()):
            self._fill(app)
        checked = time.monotonic()
        while True:
            await asyncio.sleep(TICK_S)
            now = time.monotonic()
            for app in list(self.apps.values()):
                self._scale_down(app, now)
                self._fill(app)
                if app.last_request != app.saved_request and app.last_request is not None:
                    app.saved_request = app.last_request
                    await run_in_threadpool(self.table.set_last_request, app.spec.name, app.last_request)
            if now - checked > 2.0:  # a run that ended without its host saying so (the host died)
                checked = now
                await self._check_runs()

    def _scale_down(self, app: ServedApp, now: float) -> None:
        if not app.active:
            for replica in app.live():
                self._begin_stop(app, replica)
            return
        idle = [r for r in app.ready() if r.in_flight == 0 and now - r.last_used >= app.scaledown_after()]
        keep = app.desired(now)
        for replica in sorted(idle, key=lambda r: r.last_used):
            if len(app.live()) <= keep:
                break
            self._begin_stop(app, replica)

    async def _check_runs(self) -> None:
        for app in list(self.apps.values()):
            for replica in list(app.replicas):
                if replica.state == "starting" or replica.ended.is_set():
                    continue
                record = await run_in_threadpool(self.store.get_run, replica.run)
                if record is not None and record.phase.is_terminal and not replica.ended.is_set():
                    self._ended(app, replica)

    async def close(self) -> None:
        """Stop every replica (the server stops): their runs end, their hosts can exit."""
        stopping = []
        for app in self.apps.values():
            app.active = False
            for replica in app.live():
                replica.state = "stopping"
                stopping.append(self._stop(app, replica))
        if stopping:
            await asyncio.gather(*stopping, return_exceptions=True)
        self._health.close()
        if self._addresses is not None:
            shutil.rmtree(self._addresses, ignore_errors=True)
