"""``flyte.serve`` and ``flyte.with_servecontext(...).serve``: serving an ``AppEnvironment`` here.

The app runs as the one action of a run of its own (named ``app-<name>-...``), in a worker process set
up exactly as a task's: the environment's variables, secrets, resource limits (a cgroup where the
machine allows one) and image virtualenv; what it prints is that action's log. Its start-up
parameters are resolved here first -- a value given at serve time or declared, another run's output
(``RunOutput``), another app's endpoint (``AppEndpoint``) -- and a required one left without a value is
an error before anything starts. ``serve`` returns once the app answers on its port (and on
``/health``, when it serves one), or raises with the app's last lines of output.

Deactivating the app aborts its run: the app's code is cancelled, ``on_shutdown`` runs, a command's
process gets SIGTERM, and the port is freed.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import signal
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from roost.runtime.ids import ROOT_ACTION, new_run_name
from roost.runtime.syncify import dual
from roost.spec.app_environment import AppEnvironment
from roost.spec.app_types import AppEndpoint, ArtifactValue, RunOutput
from roost.spec.environment import list_loaded_environments
from roost.store.open_stores import get_store
from roost.store.records import ActionPhase

ACTIVATE_TIMEOUT_S = 60.0
DEACTIVATE_TIMEOUT_S = 15.0
HEALTH_PATH = "/health"


class AppStartError(RuntimeError):
    """The app did not become active: ``lines`` are the last it printed."""

    def __init__(self, message: str, lines: list[str]):
        super().__init__(message)
        self.lines = lines


def _kind(value: Any) -> str | None:
    from roost.types.dir import Dir
    from roost.types.file import File

    return "file" if isinstance(value, File) else "dir" if isinstance(value, Dir) else None


def _run_output(ref: RunOutput) -> Any:
    """The value ``ref`` names: an output of run ``run_name``, or of the newest succeeded run of
    ``task_name`` (of ``task_version`` when given)."""
    from roost.runtime.runs.handles import Run

    store = get_store()
    if ref.run_name is not None:
        name = ref.run_name
    else:
        runs = store.list_runs(limit=1000, phase=ActionPhase.SUCCEEDED.value, task_name=ref.task_name)
        if ref.task_version:
            runs = [r for r in runs if json.loads(r.options or "{}").get("version") == ref.task_version]
        if not runs:
            raise ValueError(f"no succeeded run of task {ref.task_name!r} to take an app parameter from")
        name = runs[0].name
    value: Any = Run.get(name).outputs()
    for step in ref.getter:
        value = value[step]
    return value


def resolve_parameters(app: AppEnvironment, given: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every parameter's value, as the app's process materialises it: given at serve time or declared;
    another run's output; another app's endpoint. A ValueError for one without a value."""
    resolved: dict[str, dict[str, Any]] = {}
    for parameter in app.parameters:
        value = given.get(parameter.name, parameter.value)
        if value is None:
            raise ValueError(
                f"app {app.name!r} needs a value for its parameter {parameter.name!r}: "
                f"give one when serving it (roost serve ... --param {parameter.name}=VALUE)"
            )
        if isinstance(value, RunOutput):
            value = _run_output(value)
        if isinstance(value, AppEndpoint):
            other = next(
                (e for e in list_loaded_environments() if isinstance(e, AppEnvironment) and e.name == value.app_name),
                None,
            )
            if other is None:
                unknown = value.app_name
                raise ValueError(f"app {app.name!r}: parameter {parameter.name!r} names an unknown app {unknown!r}")
            value = other.endpoint
        if isinstance(value, ArtifactValue):
            raise ValueError(f"app {app.name!r}: parameter {parameter.name!r} is an artifact: roost has no artifacts")
        kind = _kind(value)
        resolved[parameter.name] = {
            "value": value.path if kind else str(value),
            "kind": kind or "text",
            "env_var": parameter.env_var,
            "download": parameter.download,
            "mount": parameter.mount,
        }
    unknown = sorted(set(given) - {p.name for p in app.parameters})
    if unknown:
        raise ValueError(f"app {app.name!r} has no parameter {', '.join(map(repr, unknown))}")
    return resolved


def _answers(port: int, path: str, timeout: float) -> bool:
    """Whether something answers on ``port``: a TCP connection, and ``path`` not failing (a 404 means
    the app serves no such path, which is no failure)."""
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        connection.request("GET", path)
        status = connection.getresponse().status
        connection.close()
        return status < 500
    except (OSError, http.client.HTTPException):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=timeout):
                return False  # it accepts connections but does not speak HTTP yet (or at all)
        except OSError:
            return False


class LocalApp:
    """An app served here (``flyte.serve``'s handle)."""

    def __init__(self, app: AppEnvironment, serve: Serve, port: int, parameters: dict[str, dict[str, Any]]):
        self.app = app
        self._serve = serve
        self.port = port
        self._parameters = parameters
        self.run_name: str | None = None
        self._thread: threading.Thread | None = None
        self._ended = threading.Event()
        self.error: BaseException | None = None

    @property
    def name(self) -> str:
        return self.app.name

    @property
    def endpoint(self) -> str:
        return f"http://localhost:{self.port}"

    @property
    def url(self) -> str:
        return self.endpoint

    def is_active(self) -> bool:
        return not self._ended.is_set() and _answers(self.port, self._serve.health_check_path, 2.0)

    def is_deactivated(self) -> bool:
        return self._thread is None or self._ended.is_set()

    def _start(self) -> None:
        from roost.runtime.runs.runner import with_runcontext
        from roost.runtime.worker.app_code import run_app
        from roost.spec.task_environment import TaskEnvironment

        if _answers(self.port, "/", 0.5) or _port_taken(self.port):
            raise ValueError(
                f"port {self.port} is in use: stop what serves there, or serve {self.name} on another port"
            )
        app = self.app
        # The app's settings, as a task's: what its worker process is set up with.
        env = TaskEnvironment(
            name=f"app-{app.name}",
            image=app.image,
            resources=app.resources,
            env_vars=app.env_vars,
            secrets=app.secrets,
        )
        task = env.task(run_app)
        location = app.source_file or ""
        self.run_name = f"app-{app.name}-{new_run_name()[1:]}"
        self._ended.clear()
        self.error = None
        context = with_runcontext(
            name=self.run_name, isolation="process", env_vars=dict(self._serve.env_vars), mode="local"
        )

        def drive() -> None:
            try:
                context.run(task, location, app.name, json.dumps(self._parameters), self.port)
            except BaseException as e:  # how it ended: told to whoever waits on it
                self.error = e
            finally:
                self._ended.set()

        self._thread = threading.Thread(target=drive, name=f"roost-app-{app.name}", daemon=True)
        self._thread.start()

    def _wait_active(self) -> None:
        deadline = time.monotonic() + self._serve.activate_timeout
        while time.monotonic() < deadline:
            if self._ended.is_set():
                break
            if _answers(self.port, self._serve.health_check_path, self._serve.health_check_timeout):
                return
            time.sleep(self._serve.health_check_interval)
        ended = self._ended.is_set()
        if not ended:
            self._deactivate(True)
        why = (
            f"it stopped ({self.error})"
            if ended and self.error
            else "it stopped"
            if ended
            else (f"it did not answer on port {self.port} within {self._serve.activate_timeout:g} s")
        )
        lines = self.logs()[-20:]
        raise AppStartError(f"app {self.name} did not become active: {why}", lines)

    def _activate(self, wait: bool = False) -> LocalApp:
        if self.is_deactivated():
            self._start()
        if wait:
            self._wait_active()
        return self

    async def _activate_aio(self, wait: bool = False) -> LocalApp:
        return await asyncio.to_thread(self._activate, wait)

    activate = dual(_activate, _activate_aio)

    def _deactivate(self, wait: bool = False) -> LocalApp:
        """Stop the app: SIGTERM to its process (its server stops, ``on_shutdown`` runs); its run is
        aborted -- the process killed -- if it has not ended within ``deactivate_timeout``."""
        if self.run_name is None or self._ended.is_set():
            return self
        pid = self._pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGTERM)
        if pid is None or not self._ended.wait(self._serve.deactivate_timeout):
            get_store().request_abort(self.run_name)
            if wait and not self._ended.wait(self._serve.deactivate_timeout):
                raise TimeoutError(f"app {self.name} did not stop within {2 * self._serve.deactivate_timeout:g} s")
        if wait:  # stopped means its port is free again: its process may take a moment to go
            deadline = time.monotonic() + self._serve.deactivate_timeout
            while _listening(self.port) and time.monotonic() < deadline:
                time.sleep(0.05)
        return self

    def _pid(self) -> int | None:
        """The app's process, as its action records it ("pid N ...")."""
        record = get_store().get_action(self.run_name or "", ROOT_ACTION)
        node = record.node if record is not None else None
        if node and node.startswith("pid "):
            return int(node.split()[1])
        return None

    async def _deactivate_aio(self, wait: bool = False) -> LocalApp:
        return await asyncio.to_thread(self._deactivate, wait)

    deactivate = dual(_deactivate, _deactivate_aio)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the app stops (by itself or deactivated); whether it did within ``timeout``."""
        return self._ended.wait(timeout)

    def logs(self) -> list[str]:
        """What the app printed so far."""
        if self.run_name is None:
            return []
        return [line.line for line in get_store().list_logs(self.run_name)]

    @contextlib.asynccontextmanager
    async def ephemeral_ctx(self) -> AsyncIterator[None]:
        """Served inside the block, deactivated when it ends."""
        try:
            yield
        finally:
            await self.deactivate.aio(wait=True)

    @contextlib.contextmanager
    def ephemeral_ctx_sync(self) -> Iterator[None]:
        try:
            yield
        finally:
            self.deactivate(wait=True)

    def __repr__(self) -> str:
        state = "deactivated" if self.is_deactivated() else "served"
        return f"<LocalApp {self.name} {state} at {self.endpoint} (run {self.run_name})>"


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As servers bind: a port whose last connections linger (TIME_WAIT) is free to them.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


class Serve:
    """How apps are served (``flyte.with_servecontext(...)``): here (``mode="local"``); on a roost
    server is not built yet."""

    def __init__(
        self,
        mode: str | None = None,
        *,
        env_vars: dict[str, str] | None = None,
        parameter_values: dict[str, dict[str, Any]] | None = None,
        activate_timeout: float | None = None,
        deactivate_timeout: float | None = None,
        health_check_timeout: float | None = None,
        health_check_interval: float | None = None,
        health_check_path: str | None = None,
        port: int | None = None,
        **settings: Any,
    ):
        if mode not in (None, "local", "remote"):
            raise ValueError(f"mode must be 'local' or 'remote', got {mode!r}")
        if mode == "remote":
            raise NotImplementedError(
                "serving apps on a roost server is not built yet: serve them here with mode='local' "
                "(roost serve FILE APP)"
            )
        self.env_vars = dict(env_vars or {})
        self.parameter_values = dict(parameter_values or {})
        self.activate_timeout = activate_timeout if activate_timeout is not None else ACTIVATE_TIMEOUT_S
        self.deactivate_timeout = deactivate_timeout if deactivate_timeout is not None else DEACTIVATE_TIMEOUT_S
        self.health_check_timeout = health_check_timeout if health_check_timeout is not None else 2.0
        self.health_check_interval = health_check_interval if health_check_interval is not None else 0.1
        self.health_check_path = health_check_path or HEALTH_PATH
        self.port = port
        self.settings = settings  # Flyte's deployment settings (version, copy_style, ...): nothing here

    def _serve(self, app_env: AppEnvironment) -> LocalApp:
        if not isinstance(app_env, AppEnvironment):
            raise TypeError(f"serve() takes an AppEnvironment, got {type(app_env).__name__}")
        parameters = resolve_parameters(app_env, self.parameter_values.get(app_env.name, {}))
        app = LocalApp(app_env, self, self.port or app_env.get_port().port, parameters)
        return app.activate(wait=True)  # type: ignore[no-any-return]

    async def _serve_aio(self, app_env: AppEnvironment) -> LocalApp:
        return await asyncio.to_thread(self._serve, app_env)

    serve = dual(_serve, _serve_aio)


def with_servecontext(mode: str | None = None, **kwargs: Any) -> Serve:
    return Serve(mode, **kwargs)


def _serve_default(app_env: AppEnvironment) -> LocalApp:
    return Serve()._serve(app_env)


async def _serve_default_aio(app_env: AppEnvironment) -> LocalApp:
    return await asyncio.to_thread(_serve_default, app_env)


serve = dual(_serve_default, _serve_default_aio)
