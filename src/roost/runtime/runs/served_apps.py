"""Apps a roost server runs (``flyte.with_servecontext(mode="remote").serve(app)``, ``flyte.serve(app)``
after ``init(endpoint=...)``, ``roost serve --remote``) and ``App``, their handle (``flyte.remote.App``).

Serving sends the app's code as a remote run sends a task's (the same code bundle) and registers the
app by name with what the server needs to run it: where it is declared in the bundle, the parameter
values given (as text: the server resolves the declared ones -- run outputs, other apps' endpoints --
from its own store), the serve context's variables and the app's serving settings (replicas, metric,
scale-down delay, ``requires_auth``, request timeout). The declared port is not sent: the server gives
each replica a free port of its own and serves the app at ``SERVER/apps/NAME/``.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

from roost.runtime import code_bundles
from roost.runtime.runs import server_client
from roost.runtime.runs.app_parameters import AppStartError, check_parameter_names
from roost.runtime.runs.remote_runs import module_in_bundle, project_root
from roost.runtime.syncify import dual
from roost.spec.app_environment import AppEnvironment
from roost.spec.app_types import Scaling

POLL_S = 0.1


def _seconds(value: timedelta | int | None) -> float | None:
    if value is None:
        return None
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def serving_settings(app: AppEnvironment) -> dict[str, Any]:
    """The app's declared serving settings, as the server reads them."""
    low, high = app.scaling.get_replicas()
    metric = app.scaling.metric
    kind = "concurrency" if isinstance(metric, Scaling.Concurrency) else "request_rate" if metric else None
    return {
        "replicas": [low, high],
        "metric": {"kind": kind, "value": metric.val} if metric is not None else None,
        "scaledown_after": _seconds(app.scaling.scaledown_after),
        "requires_auth": bool(app.requires_auth),
        "request_timeout": _seconds(app.timeouts.request),
    }


def _as_text(app: str, name: str, value: Any) -> str:
    """A parameter value given at serve time, as it travels to the server."""
    if isinstance(value, (str, int, float, bool)):
        return str(value)
    path = getattr(value, "path", None)
    if isinstance(path, str):  # a File / Dir: the server reads it where it lives
        return path
    raise ValueError(
        f"app {app!r}: parameter {name!r} is given a {type(value).__name__}; on a server give text, "
        "or declare the value (RunOutput, AppEndpoint) with the parameter"
    )


def serve_on_server(app_env: AppEnvironment, serve: Any) -> App:
    """Register ``app_env`` on the server ``init(endpoint=...)`` named; its handle, once the server has
    it (and, when the app keeps replicas up, once one answers)."""
    client = server_client.configured()
    if client is None:
        raise ValueError("mode='remote' serves on a roost server: call flyte.init(endpoint=...) first")
    given = serve.parameter_values.get(app_env.name, {})
    check_parameter_names(app_env, given)
    if app_env.source_file is None:
        raise ValueError(f"app {app_env.name!r} is not declared in a file: the server cannot load it")
    root = project_root()
    bundle = code_bundles.pack(serve.settings.get("copy_style", "loaded_modules"), root)
    if bundle is not None:
        client.upload_bundle(bundle.digest, bundle.data)
    spec = {
        "name": app_env.name,
        "bundle": bundle.digest if bundle is not None else None,
        "module": module_in_bundle(app_env.source_file, root),
        "parameters": {k: _as_text(app_env.name, k, v) for k, v in given.items()},
        "env_vars": dict(serve.env_vars),
        "health_check_path": serve.health_check_path,
        "activate_timeout": serve.activate_timeout,
        **serving_settings(app_env),
    }
    app = App(client, client.register_app(spec))
    if spec["replicas"][0] > 0:
        app._wait_ready(serve.activate_timeout)
    return app


class App:
    """An app on a roost server (``flyte.remote.App``): ``App.get(name)``, ``App.listall()``."""

    def __init__(self, client: server_client.ServerClient, record: dict[str, Any]):
        self._client = client
        self._record = record

    @classmethod
    def _server(cls) -> server_client.ServerClient:
        client = server_client.configured()
        if client is None:
            raise ValueError("apps live on a roost server: call flyte.init(endpoint=...) first")
        return client

    @classmethod
    def get(cls, name: str) -> App:
        """The app ``name`` of the server; LookupError when it has none."""
        client = cls._server()
        record = client.get_app(name)
        if record is None:
            raise LookupError(f"the roost server at {client.url} has no app {name!r}")
        return cls(client, record)

    @classmethod
    def listall(cls) -> list[App]:
        client = cls._server()
        return [cls(client, r) for r in client.list_apps()]

    def _refresh(self) -> dict[str, Any]:
        record = self._client.get_app(self.name)
        if record is not None:
            self._record = record
        return self._record

    @property
    def name(self) -> str:
        return str(self._record["name"])

    @property
    def url(self) -> str:
        return str(self._record["url"])

    @property
    def endpoint(self) -> str:
        return self.url

    @property
    def state(self) -> str:
        """stopped, idle (no replica: the next request starts one), starting, active or failed."""
        return str(self._refresh()["state"])

    @property
    def replicas(self) -> tuple[int, int]:
        """``(ready, total)`` replicas now."""
        record = self._refresh()
        return record["ready"], record["total"]

    def is_active(self) -> bool:
        """Whether the app takes requests (a scaled-to-zero app does: its next request starts it)."""
        record = self._refresh()
        return bool(record["active"]) and record["state"] != "failed"

    def is_deactivated(self) -> bool:
        return not self._refresh()["active"]

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            record = self._refresh()
            if record["ready"] > 0:
                return
            if record["state"] == "failed":
                raise AppStartError(str(record.get("last_error") or f"app {self.name} did not start"), self.logs())
            time.sleep(POLL_S)
        raise AppStartError(f"app {self.name} did not answer within {timeout:g} s", self.logs()[-20:])

    def _activate(self, wait: bool = False, timeout: float = 60.0) -> App:
        """Take requests again (``roost app start``); ``wait``: until its minimum of replicas answers."""
        self._record = self._client.set_app_active(self.name, True)
        if wait and self._record["min"] > 0:
            self._wait_ready(timeout)
        return self

    async def _activate_aio(self, wait: bool = False, timeout: float = 60.0) -> App:
        return await asyncio.to_thread(self._activate, wait, timeout)

    activate = dual(_activate, _activate_aio)

    def _deactivate(self, wait: bool = False, timeout: float = 60.0) -> App:
        """Stop every replica and take no requests (503) until activated; ``wait``: until they stopped."""
        self._record = self._client.set_app_active(self.name, False)
        deadline = time.monotonic() + timeout
        while wait and self._refresh()["total"] > 0:
            if time.monotonic() > deadline:
                raise TimeoutError(f"app {self.name} did not stop within {timeout:g} s")
            time.sleep(POLL_S)
        return self

    async def _deactivate_aio(self, wait: bool = False, timeout: float = 60.0) -> App:
        return await asyncio.to_thread(self._deactivate, wait, timeout)

    deactivate = dual(_deactivate, _deactivate_aio)

    def logs(self) -> list[str]:
        """What the app's replicas printed: those running now, else the last one."""
        return [entry["line"] for entry in self._client.app_logs(self.name)]

    def show_logs(self) -> None:
        for line in self.logs():
            print(line)

    def __repr__(self) -> str:
        record = self._record
        return f"<App {self.name} {record['state']} at {self.url} ({record['ready']}/{record['total']} replicas)>"
