"""The API of server-managed apps (docs/apps.md):

POST /api/v1/apps                    register (or replace) an app -> its view (201)
GET  /api/v1/apps                    every app: state, replicas ready / total, URL, last request
GET  /api/v1/apps/{name}             one app
POST /api/v1/apps/{name}/active      {"active": bool}: start / stop serving it
GET  /api/v1/apps/{name}/logs        what its replicas printed (those running, else the last one)
"""

from __future__ import annotations

import math
import re
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from roost.runtime import code_bundles
from roost.server.api import BadRequest, _check_module, _map, read_body, reply
from roost.server.app_replicas import AppManager, ServedApp
from roost.server.app_table import AppSpec
from roost.server.bundle_store import BundleStore
from roost.store.record_codec import to_wire

_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,255}")
MAX_BODY = 1 * 2**20


class AppRoutes:
    def __init__(self, apps: AppManager, bundles: BundleStore):
        self.apps = apps
        self.bundles = bundles

    def routes(self) -> list[Route]:
        return [
            Route("/api/v1/apps", self.register, methods=["POST"]),
            Route("/api/v1/apps", self.list_apps),
            Route("/api/v1/apps/{name}", self.get_app),
            Route("/api/v1/apps/{name}/active", self.set_active, methods=["POST"]),
            Route("/api/v1/apps/{name}/logs", self.logs),
        ]

    async def register(self, request: Request) -> Response:
        spec = check_app(_map(await read_body(request, MAX_BODY), request))
        if spec.bundle is not None and not self.bundles.has(spec.bundle):
            raise BadRequest(f"no code bundle {spec.bundle} on this server: upload it first", 409)
        app = await self.apps.register(spec)
        return reply(request, self.apps.view(app), 201)

    def list_apps(self, request: Request) -> Response:
        return reply(request, self.apps.views())

    def _app(self, request: Request) -> ServedApp:
        name = request.path_params["name"]
        app = self.apps.apps.get(name)
        if app is None:
            raise BadRequest(f"no app named {name[:100]!r} on this server", 404)
        return app

    def get_app(self, request: Request) -> Response:
        return reply(request, self.apps.view(self._app(request)))

    async def set_active(self, request: Request) -> Response:
        app = self._app(request)
        active = _map(await read_body(request, 64 * 1024), request).get("active")
        if not isinstance(active, bool):
            raise BadRequest("active must be true or false")
        await self.apps.set_active(app, active)
        return reply(request, self.apps.view(app))

    async def logs(self, request: Request) -> Response:
        app = self._app(request)
        running = [r.run for r in app.replicas]
        runs = running or list(app.runs)[-1:]

        def read() -> list[dict[str, Any]]:
            lines = []
            for run in runs:
                lines += [{**to_wire(line), "run": run} for line in self.apps.store.list_logs(run)]
            return lines

        return reply(request, await run_in_threadpool(read))


def _text_map(value: Any, what: str, keys: re.Pattern[str] | None = None) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise BadRequest(f"{what} must be a map of text to text")
    if keys is not None and not all(keys.fullmatch(k) for k in value):
        raise BadRequest(f"{what}: a name is letters, digits and '_', not starting with a digit")
    return value


def _seconds(value: Any, what: str, low: float, high: float, optional: bool = True) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BadRequest(f"{what} must be a number of seconds")
    if not low <= value <= high:
        raise BadRequest(f"{what} must be between {low:g} and {high:g} seconds, got {value:g}")
    return float(value)


def check_app(body: dict[str, Any]) -> AppSpec:
    """A POST /api/v1/apps body as what to serve, or a 400 saying what is wrong."""
    name = body.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise BadRequest("name must be 1 to 63 lowercase letters, digits, '-' or '_', starting with a letter or digit")
    bundle, module = body.get("bundle"), body.get("module")
    if bundle is not None:
        try:
            BundleStore.check_digest(bundle)
        except code_bundles.BundleError as e:
            raise BadRequest(str(e)) from None
    if not isinstance(module, str) or not 0 < len(module) <= 1000:
        raise BadRequest("module must be a module name or a path inside the bundle")
    _check_module(module)
    replicas = body.get("replicas", [0, 1])
    if (
        not isinstance(replicas, (list, tuple))
        or len(replicas) != 2
        or not all(type(n) is int for n in replicas)
        or not 0 <= replicas[0] <= replicas[1]
        or not 1 <= replicas[1] <= 100
    ):
        raise BadRequest("replicas must be [min, max] with 0 <= min <= max and 1 <= max <= 100")
    metric = body.get("metric")
    if metric is not None:
        kind, value = (metric.get("kind"), metric.get("value")) if isinstance(metric, dict) else (None, None)
        if kind not in ("concurrency", "request_rate") or type(value) is not int or value < 1:
            raise BadRequest("metric must be {kind: concurrency | request_rate, value: a whole number >= 1}")
        metric = {"kind": kind, "value": value}
    requires_auth = body.get("requires_auth", True)
    if not isinstance(requires_auth, bool):
        raise BadRequest("requires_auth must be true or false")
    path = body.get("health_check_path", "/health")
    if not isinstance(path, str) or not path.startswith("/") or len(path) > 1000 or any(c in path for c in " \r\n"):
        raise BadRequest("health_check_path must be a path starting with '/'")
    return AppSpec(
        name=name,
        bundle=bundle,
        module=module,
        parameters=_text_map(body.get("parameters", {}), "parameters"),
        env_vars=_text_map(body.get("env_vars", {}), "env_vars", _ENV_NAME),
        replicas=(replicas[0], replicas[1]),
        metric=metric,
        scaledown_after=_seconds(body.get("scaledown_after"), "scaledown_after", 0, 30 * 86400),
        requires_auth=requires_auth,
        request_timeout=_seconds(body.get("request_timeout"), "request_timeout", 0, 3600),
        health_check_path=path,
        activate_timeout=_seconds(body.get("activate_timeout", 60.0), "activate_timeout", 0.1, 3600, False) or 60.0,
    )
