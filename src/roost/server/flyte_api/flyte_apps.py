"""Apps the Flyte client deploys (``flyte deploy`` / ``flyte serve`` of an ``AppEnvironment``,
``flyte.remote.App``): ``AppService`` and ``AppLogsService``.

An app runs as the platform would run its container: its command (``fserve ...``, the Flyte app runtime,
which unpacks the code bundle and runs the app's args or server function) under the server's Flyte
runtime virtualenv, with the spec's env vars, secrets and memory limit (``action_launch.py``), one
replica, listening on the port it declares. It is active once that port answers; the client reads its
URL (``http://127.0.0.1:PORT``) from ``status.ingress.public_url``. A replica that exits on its own
marks the app failed, with its last log lines. Deployed apps are kept in ``ROOST_HOME/flyte/tasks.sqlite``
and started again with the server when they were meant to be running.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from connectrpc.code import Code
from connectrpc.errors import ConnectError
from flyteidl2.app import app_definition_pb2 as app_pb2
from flyteidl2.app import app_logs_payload_pb2, app_payload_pb2
from flyteidl2.app.app_logs_service_connect import AppLogsService
from flyteidl2.app.app_service_connect import AppService
from flyteidl2.logs.dataplane import payload_pb2 as logs_pb2

from roost.server.flyte_api import action_launch as launch
from roost.server.flyte_api.action_launch import AttemptPlan, AttemptProcess, LaunchError
from roost.server.flyte_api.flyte_actions import FlyteRuns
from roost.server.flyte_api.flyte_tables import SqliteTable
from roost.server.flyte_api.proto_views import timestamp

logger = logging.getLogger("roost.server")

Status = app_pb2.Status
ACTIVE = Status.DEPLOYMENT_STATUS_ACTIVE
DEPLOYING = Status.DEPLOYMENT_STATUS_DEPLOYING
FAILED = Status.DEPLOYMENT_STATUS_FAILED
STOPPED = Status.DEPLOYMENT_STATUS_STOPPED
STARTUP_TIMEOUT_S = 120.0
DEFAULT_PORT = 8080
TAIL_LINES = 20
MAX_LOG_LINES = 10_000
_SCHEMA = """
CREATE TABLE IF NOT EXISTS flyte_apps (
    org TEXT NOT NULL, project TEXT NOT NULL, domain TEXT NOT NULL, name TEXT NOT NULL,
    app BLOB NOT NULL, created_at REAL NOT NULL,
    PRIMARY KEY (org, project, domain, name)
)
"""


def _key(app_id: Any) -> tuple[str, str, str, str]:
    return (app_id.org, app_id.project, app_id.domain, app_id.name)


@dataclass
class ServedApp:
    app: app_pb2.App  # metadata and spec as deployed
    created_at: float
    status: int = STOPPED
    message: str = ""
    port: int = DEFAULT_PORT
    updated_at: float = field(default_factory=time.time)
    logs: list[tuple[float, str]] = field(default_factory=list)
    process: AttemptProcess | None = None
    task: asyncio.Task[None] | None = None
    stopping: asyncio.Future[None] | None = None
    tick: asyncio.Event = field(default_factory=asyncio.Event)

    def changed(self, status: int, message: str = "") -> None:
        self.status, self.message, self.updated_at = status, message, time.time()
        tick, self.tick = self.tick, asyncio.Event()
        tick.set()

    def view(self) -> app_pb2.App:
        app = app_pb2.App()
        app.CopyFrom(self.app)
        status = app.status
        status.current_replicas = 1 if self.status == ACTIVE else 0
        status.created_at.CopyFrom(timestamp(self.created_at))
        status.last_updated_at.CopyFrom(timestamp(self.updated_at))
        if self.status == ACTIVE:
            status.ingress.public_url = f"http://127.0.0.1:{self.port}"
        condition = app_pb2.Condition(deployment_status=self.status, message=self.message)
        condition.last_transition_time.CopyFrom(timestamp(self.updated_at))
        status.conditions.append(condition)
        return app


class FlyteAppTable(SqliteTable):
    SCHEMA = _SCHEMA

    def put(self, app: app_pb2.App, created_at: float) -> None:
        with self._locked() as db:
            db.execute(
                "INSERT OR REPLACE INTO flyte_apps VALUES (?, ?, ?, ?, ?, ?)",
                (*_key(app.metadata.id), app.SerializeToString(deterministic=True), created_at),
            )

    def delete(self, app_id: Any) -> None:
        with self._locked() as db:
            db.execute("DELETE FROM flyte_apps WHERE org=? AND project=? AND domain=? AND name=?", _key(app_id))

    def all(self) -> list[tuple[app_pb2.App, float]]:
        with self._locked() as db:
            rows = db.execute("SELECT app, created_at FROM flyte_apps").fetchall()
        out = []
        for data, created_at in rows:
            app = app_pb2.App()
            app.ParseFromString(data)
            out.append((app, created_at))
        return out


def _answers(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


class FlyteApps:
    """The apps of the Flyte client on this server, each one replica, started and stopped here."""

    def __init__(self, table: FlyteAppTable, runs: FlyteRuns):
        self.table = table
        self.runs = runs  # for the Flyte runtime, the data root, the endpoint and secrets
        self.apps: dict[tuple[str, str, str, str], ServedApp] = {}

    def load(self) -> None:
        """The apps deployed before: those meant to run are started again."""
        for app, created_at in self.table.all():
            served = ServedApp(app, created_at)
            self.apps[_key(app.metadata.id)] = served
            if app.spec.desired_state != app_pb2.Spec.DESIRED_STATE_STOPPED:
                self.start(served)

    def deploy(self, app: app_pb2.App) -> ServedApp:
        key = _key(app.metadata.id)
        if not app.metadata.id.name:
            raise ConnectError(Code.INVALID_ARGUMENT, "an app needs a name")
        if not app.spec.HasField("container"):
            raise ConnectError(Code.INVALID_ARGUMENT, "roost serves container apps; this app has no container")
        old = self.apps.get(key)
        served = ServedApp(app_pb2.App(metadata=app.metadata, spec=app.spec), old.created_at if old else time.time())
        served.app.metadata.revision = (old.app.metadata.revision + 1) if old else 1
        if old is not None:
            served.logs, served.tick = old.logs, old.tick
            self.stop(old, "replaced by a new revision")
        self.apps[key] = served
        self.table.put(served.app, served.created_at)
        if app.spec.desired_state != app_pb2.Spec.DESIRED_STATE_STOPPED:
            self.start(served)
        else:
            served.changed(STOPPED)
        return served

    def find(self, app_id: Any) -> ServedApp:
        served = self.apps.get(_key(app_id))
        if served is None:
            raise ConnectError(Code.NOT_FOUND, f"no app named {app_id.name!r} in {app_id.project}/{app_id.domain}")
        return served

    def start(self, served: ServedApp) -> None:
        if served.task is not None and not served.task.done():
            return
        served.changed(DEPLOYING, "starting")
        served.task = asyncio.ensure_future(self._serve(served))

    def stop(self, served: ServedApp, why: str = "stopped") -> None:
        if served.process is not None:
            served.stopping = asyncio.ensure_future(served.process.stop("abort"))
        elif served.task is not None:
            served.task.cancel()
        served.changed(STOPPED, why)

    def delete(self, app_id: Any) -> None:
        served = self.find(app_id)
        self.stop(served, "deleted")
        del self.apps[_key(app_id)]
        self.table.delete(app_id)

    def _plan(self, served: ServedApp, python: str) -> AttemptPlan:
        app = served.app
        container = app.spec.container
        ident = app.metadata.id
        runs = self.runs
        raw = f"file://{runs.data_root / ident.org / ident.project / ident.domain / '_apps' / ident.name / 'raw'}"
        args = launch.entry_point(
            python, launch.fill([*container.command, *container.args], {"rawOutputDataPrefix": raw})
        )
        served.port = container.ports[0].container_port if len(container.ports) else DEFAULT_PORT
        env = {
            **launch.runtime_variables(python, runs.endpoint, ident.org, ident.project, ident.domain),
            "PORT": str(served.port),
        }
        for kv in container.env:
            env[kv.key] = kv.value
        env.update(runs.secrets_for(list(app.spec.security_context.secrets)))
        memory, cpu = launch.container_limits(container)
        return AttemptPlan(args, env, memory, cpu, None, f"app {ident.name}")

    def _log(self, served: ServedApp, stream: str, line: str) -> None:
        served.logs.append((time.time(), line))
        if len(served.logs) > MAX_LOG_LINES:
            del served.logs[: len(served.logs) - MAX_LOG_LINES]
        tick, served.tick = served.tick, asyncio.Event()
        tick.set()

    async def _serve(self, served: ServedApp) -> None:
        try:
            version = served.app.spec.runtime_metadata.version
            python = await self.runs.runtimes.python_for(version, lambda line: self._log(served, "stderr", line))
            plan = self._plan(served, python)
        except (LaunchError, ValueError) as e:
            served.changed(FAILED, str(e))
            return
        if _answers(served.port):
            served.changed(FAILED, f"port {served.port} is taken on this machine: another app or program uses it")
            return
        process = AttemptProcess(plan, lambda stream, line: self._log(served, stream, line))
        served.process = process
        running = asyncio.ensure_future(process.run())
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        try:
            while not running.done() and not _answers(served.port):
                if time.monotonic() > deadline:
                    await process.stop("timeout")
                    break
                await asyncio.sleep(0.1)
            if not running.done():
                served.changed(ACTIVE, f"serving on port {served.port}")
            end = await running
        finally:
            served.process = None
        if served.status == STOPPED:
            return
        tail = "\n".join(line for _, line in served.logs[-TAIL_LINES:])
        why = {"memory": "it used more than its memory limit", "timeout": "its port did not answer in time"}
        reason = why.get(end.killed_for or "", f"it exited with status {end.status}")
        served.changed(FAILED, f"the app stopped: {reason}" + (f"; last lines:\n{tail}" if tail else ""))

    async def close(self) -> None:
        for served in list(self.apps.values()):
            if served.process is not None:
                await served.process.stop("abort")
        tasks = [s.task for s in self.apps.values() if s.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=10)
        self.table.close()


class Apps(AppService):
    def __init__(self, apps: FlyteApps):
        self.apps = apps

    async def create(self, request: Any, ctx: Any) -> Any:
        if _key(request.app.metadata.id) in self.apps.apps:
            raise ConnectError(Code.ALREADY_EXISTS, f"app {request.app.metadata.id.name!r} exists")
        return app_payload_pb2.CreateResponse(app=self.apps.deploy(request.app).view())

    async def update(self, request: Any, ctx: Any) -> Any:
        served = self.apps.find(request.app.metadata.id)
        spec = request.app.spec
        if spec.HasField("container") and spec.container != served.app.spec.container:
            return app_payload_pb2.UpdateResponse(app=self.apps.deploy(request.app).view())
        served.app.spec.desired_state = spec.desired_state
        self.apps.table.put(served.app, served.created_at)
        if spec.desired_state == app_pb2.Spec.DESIRED_STATE_STOPPED:
            self.apps.stop(served)
        else:
            self.apps.start(served)
        return app_payload_pb2.UpdateResponse(app=served.view())

    async def get(self, request: Any, ctx: Any) -> Any:
        return app_payload_pb2.GetResponse(app=self.apps.find(request.app_id).view())

    async def delete(self, request: Any, ctx: Any) -> Any:
        self.apps.delete(request.app_id)
        return app_payload_pb2.DeleteResponse()

    async def list(self, request: Any, ctx: Any) -> Any:
        p = request.project
        found = [
            s.view()
            for key, s in sorted(self.apps.apps.items())
            if (not p.name or key[1] == p.name) and (not p.domain or key[2] == p.domain)
        ]
        return app_payload_pb2.ListResponse(apps=found, total_count=len(found))

    async def watch(self, request: Any, ctx: Any) -> AsyncIterator[Any]:
        served = self.apps.find(request.app_id)
        seen: tuple[int, str] | None = None
        while True:
            tick = served.tick
            if (served.status, served.message) != seen:
                seen = (served.status, served.message)
                yield app_payload_pb2.WatchResponse(update_event=app_payload_pb2.UpdateEvent(updated_app=served.view()))
            await tick.wait()


class AppLogs(AppLogsService):
    def __init__(self, apps: FlyteApps):
        self.apps = apps

    async def tail_logs(self, request: Any, ctx: Any) -> AsyncIterator[Any]:
        served = self.apps.find(request.app_id)
        sent = max(0, len(served.logs) - 100)
        while True:
            tick = served.tick
            lines = served.logs[sent:]
            sent = len(served.logs)
            if lines:
                structured = [
                    logs_pb2.LogLine(timestamp=timestamp(ts), message=text + "\n", originator=logs_pb2.USER)
                    for ts, text in lines
                ]
                yield app_logs_payload_pb2.TailLogsResponse(log_lines=logs_pb2.LogLines(structured_lines=structured))
            await tick.wait()
