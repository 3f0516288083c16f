"""The server's API of what is deployed: versions of tasks (and the images they need, built first) and
their triggers. Routes beside ``api.py``'s, with its conventions (bodies, errors).

    POST /api/v1/images                            build the images of tasks about to be deployed -> {"build"}
    GET  /api/v1/images/{build}                    {"done", "lines", "failed"}
    POST /api/v1/deployments                       register a version of deployed tasks
    GET  /api/v1/tasks[?name]                      deployed tasks, newest first
    GET  /api/v1/tasks/{name}[?version]            one deployed task (its newest version by default)
    GET  /api/v1/triggers[?task&name]              deployed triggers, with their next firing time
    POST /api/v1/triggers                          add a trigger to a deployed task (flyte.remote.Trigger.create)
    GET  /api/v1/triggers/{task}/{name}            one trigger
    DELETE /api/v1/triggers/{task}/{name}          delete it
    POST /api/v1/triggers/{task}/{name}/active     activate or deactivate it ({"active": bool})
    POST /api/v1/triggers/{task}/{name}/backfill   a run per missed time ({"from", "to", "concurrency"})
    POST /api/v1/triggers/{task}/{name}/fire       fire it now -> {"name", "url"}
"""

from __future__ import annotations

import re
import time
from typing import Any

import msgpack
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from roost.runtime import code_bundles
from roost.server.api import (
    _OPTION_CHECKS,
    MAX_SUBMISSION_BYTES,
    BadRequest,
    _check_module,
    _map,
    read_body,
    reply,
)
from roost.server.bundle_store import BundleStore
from roost.server.hosts import HostGone, Hosts
from roost.server.registry import DeployedTask, TaskRegistry, VersionConflict
from roost.server.scheduler import Scheduler, fire_run_name
from roost.server.submissions import Refused, Submissions
from roost.server.trigger_table import DeployedTrigger, TriggerTable
from roost.spec.triggers import Cron, check_binding


class DeployRoutes:
    """Deployments, deployed tasks and triggers, over the registry, the trigger table and the scheduler."""

    def __init__(
        self,
        registry: TaskRegistry,
        triggers: TriggerTable,
        scheduler: Scheduler,
        bundles: BundleStore,
        hosts: Hosts,
        submissions: Submissions,
        run_url: Any,
    ):
        self.registry = registry
        self.triggers = triggers
        self.scheduler = scheduler
        self.bundles = bundles
        self.hosts = hosts
        self.submissions = submissions
        self.run_url = run_url

    def routes(self) -> list[Route]:
        return [
            Route("/api/v1/deployments", self.deploy, methods=["POST"]),
            Route("/api/v1/images", self.build_images, methods=["POST"]),
            Route("/api/v1/images/{build}", self.image_build),
            Route("/api/v1/tasks", self.list_tasks),
            Route("/api/v1/tasks/{name}", self.get_task),
            Route("/api/v1/triggers", self.list_triggers),
            Route("/api/v1/triggers", self.create_trigger, methods=["POST"]),
            Route("/api/v1/triggers/{task}/{name}", self.get_trigger),
            Route("/api/v1/triggers/{task}/{name}", self.delete_trigger, methods=["DELETE"]),
            Route("/api/v1/triggers/{task}/{name}/active", self.activate_trigger, methods=["POST"]),
            Route("/api/v1/triggers/{task}/{name}/backfill", self.backfill, methods=["POST"]),
            Route("/api/v1/triggers/{task}/{name}/fire", self.fire_trigger, methods=["POST"]),
        ]

    async def deploy(self, request: Request) -> Response:
        body = _map(await read_body(request, MAX_SUBMISSION_BYTES), request)
        tasks = check_deployment(body)
        by_name = {task.name: task for task in tasks}
        triggers = body.get("triggers") or []
        if not isinstance(triggers, list):
            raise BadRequest("triggers must be a list")
        specs = [check_trigger(item, by_name) for item in triggers]
        for task in tasks:
            if task.bundle is not None and not self.bundles.has(task.bundle):
                raise BadRequest(f"no code bundle {task.bundle} on this server: upload it first", 409)
        try:
            registered, existing = await run_in_threadpool(self.registry.register, tasks)
        except VersionConflict as e:
            raise BadRequest(str(e), 409) from None
        version = tasks[0].version
        changed = await run_in_threadpool(
            self.triggers.register, [(t, n, version, s) for t, n, s in specs], self.scheduler.clock.now()
        )
        self.scheduler.changed()
        return reply(request, {"version": version, "registered": registered, "existing": existing,
                               "triggers": changed}, 201 if registered else 200)  # fmt: skip

    async def build_images(self, request: Request) -> Response:
        """Build (in the bundle's host, in the background) the images of the tasks about to be deployed."""
        body = _map(await read_body(request, MAX_SUBMISSION_BYTES), request)
        bundle, modules = body.get("bundle"), body.get("modules")
        if bundle is not None:
            try:
                BundleStore.check_digest(bundle)
            except code_bundles.BundleError as e:
                raise BadRequest(str(e)) from None
            if not self.bundles.has(bundle):
                raise BadRequest(f"no code bundle {bundle} on this server: upload it first", 409)
        if not isinstance(modules, dict) or not all(
            isinstance(m, str) and isinstance(n, list) and all(isinstance(t, str) for t in n)
            for m, n in modules.items()
        ):
            raise BadRequest("modules must map each module to the names of its tasks")
        for module in modules:
            _check_module(module)
        try:
            build = await self.hosts.build_images(bundle, modules)
        except HostGone as e:
            raise BadRequest(f"{e}: see the server log", 503) from None
        return reply(request, {"build": build}, 202)

    def image_build(self, request: Request) -> Response:
        try:
            state = self.hosts.build_state(request.path_params["build"])
        except KeyError:
            raise BadRequest(f"no image build {request.path_params['build'][:40]!r} on this server", 404) from None
        if state is None:
            return reply(request, {"done": False})
        return reply(request, {"done": True, "lines": state.lines, "failed": state.failed})

    def list_tasks(self, request: Request) -> Response:
        name = request.query_params.get("name")
        return reply(request, [t.to_wire() for t in self.registry.list(name)])

    def get_task(self, request: Request) -> Response:
        name, version = request.path_params["name"], request.query_params.get("version")
        task = self.registry.get(name, version)
        if task is None:
            which = f"version {version!r} of " if version else ""
            raise BadRequest(f"{which}task {name!r} is not deployed on this server", 404)
        return reply(request, task.to_wire())

    # -- triggers ----------------------------------------------------------------------------------------
    def list_triggers(self, request: Request) -> Response:
        query = request.query_params
        found = self.triggers.list(query.get("task"), query.get("name"))
        return reply(request, [t.to_wire() for t in found])

    def _trigger(self, request: Request) -> DeployedTrigger:
        task, name = request.path_params["task"], request.path_params["name"]
        found = self.triggers.get(task, name)
        if found is None:
            raise BadRequest(f"task {task!r} has no trigger {name!r} on this server", 404)
        return found

    def get_trigger(self, request: Request) -> Response:
        return reply(request, self._trigger(request).to_wire())

    async def create_trigger(self, request: Request) -> Response:
        body = _map(await read_body(request, MAX_SUBMISSION_BYTES), request)
        item, version = body.get("trigger"), body.get("version")
        if version is not None and not isinstance(version, str):
            raise BadRequest("version must be text")
        task_name = item.get("task") if isinstance(item, dict) else None
        task = self.registry.get(task_name, version) if isinstance(task_name, str) else None
        if task is None:
            which = f"version {version!r} of " if version else ""
            raise BadRequest(f"{which}task {task_name!r} is not deployed on this server", 404)
        task_name, name, spec = check_trigger(item, {task.name: task})
        await run_in_threadpool(self.triggers.register, [(task_name, name, task.version, spec)],
                                self.scheduler.clock.now())  # fmt: skip
        self.scheduler.changed()
        return reply(request, self.triggers.get(task_name, name).to_wire(), 201)  # type: ignore[union-attr]

    def delete_trigger(self, request: Request) -> Response:
        found = self._trigger(request)
        self.triggers.delete(found.task, found.name)
        self.scheduler.changed()
        return reply(request, {"deleted": True})

    async def activate_trigger(self, request: Request) -> Response:
        found = self._trigger(request)
        active = _map(await read_body(request, 64 * 1024), request).get("active")
        if not isinstance(active, bool):
            raise BadRequest("active must be true or false")
        self.triggers.set_active(found.task, found.name, active, self.scheduler.clock.now())
        self.scheduler.changed()
        return reply(request, self._trigger(request).to_wire())

    async def fire_trigger(self, request: Request) -> Response:
        """Fire the trigger now, active or not (its run named after this second, as any firing's)."""
        found = self._trigger(request)
        at = float(int(self.scheduler.clock.now()))
        name = fire_run_name(found.task, found.name, at)
        try:
            answer = await self.submissions.start(self.hosts, self.scheduler.submission(found, name, at))
        except Refused as e:
            raise BadRequest(str(e), e.status) from None
        return reply(request, {"name": answer.name, "url": self.run_url(answer.name)}, 201)

    async def backfill(self, request: Request) -> Response:
        found = self._trigger(request)
        body = _map(await read_body(request, 64 * 1024), request)
        start, end, concurrency = body.get("from"), body.get("to"), body.get("concurrency", 4)
        if not all(isinstance(t, (int, float)) and not isinstance(t, bool) for t in (start, end)):
            raise BadRequest("from and to must be Unix times")
        if not start < end:  # type: ignore[operator]
            raise BadRequest("from must be before to")
        if type(concurrency) is not int or not 1 <= concurrency <= 100:
            raise BadRequest("concurrency must be a whole number from 1 to 100")
        try:
            planned = await run_in_threadpool(self.scheduler.plan_backfill, found, start, end)
        except ValueError as e:
            raise BadRequest(str(e)) from None
        self.scheduler.start_backfill(found, planned, concurrency)
        return reply(request, {"runs": [n for n, _ in planned["missing"]],
                               "existing": [n for n, _ in planned["existing"]]}, 202)  # fmt: skip


_VERSION = re.compile(r"[A-Za-z0-9_.\-]{1,128}")


def check_deployment(body: dict[str, Any]) -> list[DeployedTask]:
    """A POST /api/v1/deployments body as the tasks to register, or a 400 saying what is wrong."""
    version, tasks = body.get("version"), body.get("tasks")
    if not isinstance(version, str) or not _VERSION.fullmatch(version):
        raise BadRequest("version must be 1 to 128 letters, digits, '.', '_' or '-'")
    if not isinstance(tasks, list) or not tasks or len(tasks) > 10_000:
        raise BadRequest("tasks must be a non-empty list")
    found = []
    for item in tasks:
        if not isinstance(item, dict):
            raise BadRequest("each task is a map")
        text = {k: item.get(k) for k in ("name", "env_name", "module", "content")}
        if not all(isinstance(v, str) and 0 < len(v) <= 1000 for v in text.values()):
            raise BadRequest("each task has a name, env_name, module and content (text)")
        bundle, inputs = item.get("bundle"), item.get("inputs")
        if bundle is not None:
            try:
                BundleStore.check_digest(bundle)
            except code_bundles.BundleError as e:
                raise BadRequest(str(e)) from None
        if not isinstance(inputs, dict) or not all(isinstance(v, dict) for v in inputs.values()):
            raise BadRequest(f"the inputs of {text['name']} must be a map of maps")
        _check_module(text["module"])
        found.append(DeployedTask(text["name"], version, text["env_name"], bundle, text["module"], inputs,
                                  text["content"], time.time()))  # fmt: skip
    return found


_TRIGGER_NAME = re.compile(r"[^/\x00]{1,255}")


def check_trigger(item: Any, tasks: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """A trigger as a deploy (or Trigger.create) sends it, for one of ``tasks`` (name -> the deployed
    task): ``(task, name, spec)``, or a 400 saying what is wrong."""
    if not isinstance(item, dict):
        raise BadRequest("each trigger is a map")
    task_name, name = item.get("task"), item.get("name")
    if not isinstance(name, str) or not _TRIGGER_NAME.fullmatch(name):
        raise BadRequest("a trigger's name is 1 to 255 characters, without '/'")
    task = tasks.get(task_name) if isinstance(task_name, str) else None
    if task is None:
        raise BadRequest(f"trigger {name!r} is for task {task_name!r}, which is not deployed with it")
    automation = _check_automation(item.get("automation"), name)
    inputs, time_input = item.get("inputs") or b"", item.get("time_input")
    try:
        given = msgpack.unpackb(inputs, raw=False, timestamp=3) if inputs else {}
    except Exception:
        given = None
    if not isinstance(given, dict) or not all(isinstance(k, str) for k in given):
        raise BadRequest(f"the inputs of trigger {name!r} must be msgpack of a map of input name to value")
    if time_input is not None and not isinstance(time_input, str):
        raise BadRequest(f"time_input of trigger {name!r} must be an input name")
    options = item.get("options") or {}
    if not isinstance(options, dict):
        raise BadRequest(f"options of trigger {name!r} must be a map")
    for option, value in options.items():
        check = _OPTION_CHECKS.get(option)
        if check is None or not check[0](value):
            raise BadRequest(f"trigger {name!r}: option {option} " + (f"must be {check[1]}" if check else "is unknown"))
    description = item.get("description", "")
    if not isinstance(description, str) or not isinstance(item.get("auto_activate", True), bool):
        raise BadRequest(f"trigger {name!r}: description is text and auto_activate true or false")
    declared = {n: bool(i.get("default")) for n, i in task.inputs.items()}
    try:
        check_binding(name, task.name, list(given), time_input, declared)
    except ValueError as e:
        raise BadRequest(str(e)) from None
    spec = {
        "automation": automation,
        "description": description[:255],
        "auto_activate": item.get("auto_activate", True),
        "inputs": inputs,
        "time_input": time_input,
        "options": options,
    }
    return task.name, name, spec


def _check_automation(automation: Any, trigger: str) -> dict[str, Any]:
    kind = automation.get("kind") if isinstance(automation, dict) else None
    if kind == "cron":
        try:
            Cron(automation.get("expression"), automation.get("timezone") or "UTC")
            valid = croniter_valid(automation["expression"])
        except (TypeError, ValueError) as e:
            raise BadRequest(f"trigger {trigger!r}: {e}") from None
        if not valid:
            raise BadRequest(f"trigger {trigger!r}: {automation['expression']!r} is not a cron expression")
        return {"kind": kind, "expression": automation["expression"], "timezone": automation.get("timezone") or "UTC"}
    if kind == "fixed_rate":
        interval, start = automation.get("interval_minutes"), automation.get("start_time")
        if type(interval) is not int or interval < 1:
            raise BadRequest(f"trigger {trigger!r}: interval_minutes must be a whole number >= 1")
        if start is not None and (isinstance(start, bool) or not isinstance(start, (int, float))):
            raise BadRequest(f"trigger {trigger!r}: start_time must be a Unix time")
        return {"kind": kind, "interval_minutes": interval, "start_time": start}
    if kind == "artifact":
        if not isinstance(automation.get("name"), str):
            raise BadRequest(f"trigger {trigger!r}: an artifact trigger names its artifact")
        return {"kind": kind, "name": automation["name"], "version": automation.get("version")}
    raise BadRequest(f"trigger {trigger!r}: automation must be a cron, fixed_rate or artifact map")


def croniter_valid(expression: str) -> bool:
    from croniter import croniter

    return bool(croniter.is_valid(expression))
