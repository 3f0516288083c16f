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
from roost.runtime.runs.app_parameters import AppStartError, resolve_parameters
from roost.runtime.syncify import dual
from roost.spec.app_environment import AppEnvironment
from roost.store.open_stores import get_store

ACTIVATE_TIMEOUT_S = 60.0
DEACTIVATE_TIMEOUT_S = 15.0
HEALTH_PATH = "/health"


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


def app_task(app: AppEnvironment, limits: bool = True) -> Any:
    """The task a replica of ``app`` runs as: the app runtime (``run_app``) in an environment with the
    app's settings -- what its worker process is set up with, exactly as a task's (without its
    resources when ``limits`` is False: a worker that only drives the app's replica on Ray)."""
    from roost.runtime.worker.app_code import run_app
    from roost.spec.task_environment import TaskEnvironment

    env = TaskEnvironment(
        name=f"app-{app.name}",
        image=app.image,
        resources=app.resources if limits else None,
        env_vars=app.env_vars,
        secrets=app.secrets,
    )
    return env.task(run_app)


def app_pid(run_name: str) -> int | None:
    """The process of the app served as run ``run_name``, as its root action records it ("pid N ...")."""
    record = get_store().get_action(run_name, ROOT_ACTION)
    node = record.node if record is not None else None
    if node and node.startswith("pid "):
        with contextlib.suppress(ValueError, IndexError):
            return int(node.split()[1])
    return None


def signal_app(run_name: str) -> bool:
    """SIGTERM to the app's process (its server stops, ``on_shutdown`` runs); whether there was one."""
    pid = app_pid(run_name)
    if pid is None:
        return False
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGTERM)
    return True


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
        self.dependencies: list[LocalApp] = []  # the apps it depends on that serving it started

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

        if _answers(self.port, "/", 0.5) or _port_taken(self.port):
            raise ValueError(
                f"port {self.port} is in use: stop what serves there, or serve {self.name} on another port"
            )
        app = self.app
        task = app_task(app)
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
        aborted -- the process killed -- if it has not ended within ``deactivate_timeout``. Then the
        apps it depends on that serving it started."""
        try:
            self._stop(wait)
        finally:
            for dependency in reversed(self.dependencies):
                dependency._deactivate(wait)
        return self

    def _stop(self, wait: bool) -> None:
        if self.run_name is None or self._ended.is_set():
            return
        signalled = signal_app(self.run_name)
        if not signalled or not self._ended.wait(self._serve.deactivate_timeout):
            get_store().request_abort(self.run_name)
            if wait and not self._ended.wait(self._serve.deactivate_timeout):
                raise TimeoutError(f"app {self.name} did not stop within {2 * self._serve.deactivate_timeout:g} s")
        if wait:  # stopped means its port is free again: its process may take a moment to go
            deadline = time.monotonic() + self._serve.deactivate_timeout
            while _listening(self.port) and time.monotonic() < deadline:
                time.sleep(0.05)

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
    """How apps are served (``flyte.with_servecontext(...)``): here (``mode="local"``), or by the roost
    server ``init(endpoint=...)`` named (``mode="remote"``, the default with an endpoint)."""

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
        self.mode = mode
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
        if self._remote():
            from roost.runtime.runs import server_client
            from roost.runtime.runs.served_apps import serve_on_server

            client = server_client.configured()
            for dependency in _apps_depended_on(app_env):  # served first; one the server has stays as it is
                if client is None or client.get_app(dependency.name) is None:
                    serve_on_server(dependency, self)
            return serve_on_server(app_env, self)  # type: ignore[return-value]
        parameters = resolve_parameters(app_env, self.parameter_values.get(app_env.name, {}))
        started = []
        for dependency in _apps_depended_on(app_env):  # served first, unless they answer already
            if not _answers(dependency.get_port().port, self.health_check_path, 0.5):
                started.append(Serve("local", env_vars=self.env_vars, parameter_values=self.parameter_values,
                                     activate_timeout=self.activate_timeout)._serve(dependency))  # fmt: skip
        app = LocalApp(app_env, self, self.port or app_env.get_port().port, parameters)
        app.dependencies = started
        try:
            return app.activate(wait=True)  # type: ignore[no-any-return]
        except BaseException:
            for dependency in started:
                dependency.deactivate(wait=True)
            raise

    async def _serve_aio(self, app_env: AppEnvironment) -> LocalApp:
        return await asyncio.to_thread(self._serve, app_env)

    def _remote(self) -> bool:
        if self.mode is not None:
            return self.mode == "remote"
        from roost.runtime.runs import server_client

        return server_client.configured() is not None  # as runs: remote once a server is named

    serve = dual(_serve, _serve_aio)


def _apps_depended_on(app_env: AppEnvironment) -> list[AppEnvironment]:
    """The apps ``app_env`` depends on, through any environments, those they depend on first."""
    from roost.spec.dependencies import deployment_order

    return [e for e in deployment_order(app_env) if isinstance(e, AppEnvironment) and e is not app_env]


def with_servecontext(mode: str | None = None, **kwargs: Any) -> Serve:
    return Serve(mode, **kwargs)


def _serve_default(app_env: AppEnvironment) -> LocalApp:
    return Serve()._serve(app_env)


async def _serve_default_aio(app_env: AppEnvironment) -> LocalApp:
    return await asyncio.to_thread(_serve_default, app_env)


serve = dual(_serve_default, _serve_default_aio)
