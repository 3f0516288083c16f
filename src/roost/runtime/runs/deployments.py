"""``flyte.deploy``: register every task of some environments (and of what they ``depends_on``) on a
roost server, under a version.

The plan is the environments in dependency order (``spec.dependencies``). The version is the one
given, or a content hash of the code bundle and the environments' declarations (their tasks, images,
resources): the same code and the same declarations are the same version, so deploying them again
registers nothing new. A different content under a version that exists is refused by the server.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import timezone
from typing import Any

from roost.core.compile import compile_task
from roost.errors import DeploymentError, InitializationError
from roost.interface import EMPTY
from roost.runtime import code_bundles, values
from roost.runtime.loop import on_runtime
from roost.runtime.runs import server_client
from roost.runtime.runs.remote_runs import module_in_bundle, project_root
from roost.spec.dependencies import deployment_order
from roost.spec.environment import Environment
from roost.spec.triggers import Cron, FixedRate, Trigger, TriggeredArtifact, TriggerTime, check_binding
from roost.task import TaskTemplate


@dataclass(frozen=True)
class DeployedTask:
    """One task of a deployment: its name, the version it is registered under, and whether that
    version of it was there already."""

    name: str
    version: str
    existed: bool = False

    def summary_repr(self) -> str:
        return f"{self.name} {self.version}" + (" (already deployed)" if self.existed else "")


@dataclass(frozen=True)
class DeployedEnvironment:
    env: Environment
    deployed_entities: list[DeployedTask] = field(default_factory=list)


@dataclass(frozen=True)
class Deployment:
    """What ``deploy`` registered (or, with ``dry_run``, would register), environment by environment,
    in deployment order."""

    envs: dict[str, DeployedEnvironment]
    version: str
    dry_run: bool = False
    images: list[str] = field(default_factory=list)  # what the server did for each image, one line each

    def summary_repr(self) -> str:
        head = f"{'planned' if self.dry_run else 'deployed'} version {self.version}:"
        lines = [head]
        for name, deployed in self.envs.items():
            lines.append(f"  {name}")
            lines += [f"    {task.summary_repr()}" for task in deployed.deployed_entities]
        return "\n".join(lines)

    def table_repr(self) -> list[tuple[str, str, str, str]]:
        return [
            (env, task.name, task.version, "existing" if task.existed else ("planned" if self.dry_run else "new"))
            for env, deployed in self.envs.items()
            for task in deployed.deployed_entities
        ]

    __str__ = summary_repr


def inputs_of(task: TaskTemplate[Any]) -> dict[str, Any]:
    return {
        name: {"type": getattr(tp, "__name__", None) or str(tp).replace("typing.", ""), "default": default is not EMPTY}
        for name, (tp, default) in task.interface.inputs.items()
    }


def trigger_wire(trigger: Trigger, task: str, declared: dict[str, bool]) -> dict[str, Any]:
    """A trigger of ``task`` as the server registers it (its fixed inputs packed, the input bound to
    the firing time named), after checking its inputs against the task's (name -> has a default)."""
    given = dict(trigger.inputs or {})
    time_input = next((k for k, v in given.items() if v is TriggerTime), None)
    fixed = {k: v for k, v in given.items() if v is not TriggerTime and v is not TriggeredArtifact}
    check_binding(trigger.name, task, list(fixed), time_input, declared)
    automation = trigger.automation
    if isinstance(automation, Cron):
        wire = {"kind": "cron", "expression": automation.expression, "timezone": automation.timezone}
    elif isinstance(automation, FixedRate):
        start = automation.start_time
        if start is not None and start.tzinfo is None:
            start = start.replace(tzinfo=timezone.utc)  # a time without a zone is UTC, as Flyte reads it
        wire = {"kind": "fixed_rate", "interval_minutes": automation.interval_minutes,
                "start_time": start.timestamp() if start is not None else None}  # fmt: skip
    else:
        wire = {"kind": "artifact", "name": automation.name, "version": automation.version}
    options: dict[str, Any] = {"overwrite_cache": trigger.overwrite_cache}
    if trigger.env_vars:
        options["env_vars"] = dict(trigger.env_vars)
    if trigger.custom_context:
        options["custom_context"] = dict(trigger.custom_context)
    if trigger.max_action_concurrency:
        options["max_action_concurrency"] = trigger.max_action_concurrency
    try:
        packed = values.pack_plain(fixed)
    except TypeError as e:
        raise ValueError(f"trigger {trigger.name!r} of {task}: {e}") from None
    return {
        "task": task,
        "name": trigger.name,
        "automation": wire,
        "description": trigger.description,
        "auto_activate": trigger.auto_activate,
        "inputs": packed,
        "time_input": time_input,
        "options": options,
    }


def _declared(task: TaskTemplate[Any]) -> str:
    """What a task's registration stands for besides its code: its compiled spec."""
    spec = compile_task(task)
    declared = (spec.image, spec.resources, dict(spec.env_vars), spec.secrets, spec.retries, spec.timeout, spec.cache)
    return repr((spec.name, spec.function, spec.reusable, *declared))


@on_runtime
async def deploy(
    *envs: Environment,
    dry_run: bool = False,
    version: str | None = None,
    interactive_mode: bool | None = None,
    copy_style: str = "loaded_modules",
    dryrun: bool | None = None,
) -> list[Deployment]:
    """Register the tasks of ``envs`` and of the environments they depend on, in dependency order."""
    dry_run = bool(dry_run or dryrun)
    if interactive_mode:
        raise NotImplementedError("interactive_mode deployments are not supported")
    if copy_style == "none" and not version:
        raise DeploymentError("copy_style='none' needs an explicit version=")
    if not envs:
        raise ValueError("deploy() needs at least one environment")
    ordered = deployment_order(*envs)
    root = project_root()
    bundle = code_bundles.pack(copy_style, root)
    rows: list[tuple[str, dict[str, Any]]] = []
    triggers: list[dict[str, Any]] = []
    for env in ordered:
        for task in getattr(env, "tasks", {}).values():
            try:
                declared = {name: info["default"] for name, info in inputs_of(task).items()}
                triggers += [trigger_wire(trigger, task.name, declared) for trigger in task.triggers]
            except ValueError as e:
                raise DeploymentError(str(e)) from None
            row = {
                "name": task.name,
                "env_name": env.name,
                "bundle": bundle.digest if bundle is not None else None,
                "module": module_in_bundle(compile_task(task).module, root),
                "inputs": inputs_of(task),
            }
            row["content"] = hashlib.sha256(
                json.dumps([row, _declared(task)], sort_keys=True, default=str).encode()
            ).hexdigest()
            rows.append((env.name, row))
    if version is None:
        digest = hashlib.sha256((bundle.digest if bundle else "").encode())
        for _, row in rows:
            digest.update(row["content"].encode())
        version = digest.hexdigest()[:20]
    existing: set[str] = set()
    images: list[str] = []
    if not dry_run:
        client = server_client.configured()
        if client is None:
            raise InitializationError(
                "NoControlPlane", "user", "deploy() needs a roost server: flyte.init(endpoint='http://127.0.0.1:8686')"
            )
        if bundle is not None:
            client.upload_bundle(bundle.digest, bundle.data)
        # Images first: a deployment whose images do not build registers nothing.
        modules: dict[str, list[str]] = {}
        for _, row in rows:
            modules.setdefault(row["module"], []).append(row["name"])
        built = client.build_images(bundle.digest if bundle is not None else None, modules)
        images = list(built["lines"])
        if built["failed"]:
            problems = "; ".join(
                line for line in images if line.split(":")[0] in built["failed"] or "*" in built["failed"]
            )
            raise DeploymentError(
                f"the images of {', '.join(built['failed'])} did not build, nothing was deployed: {problems}"
            )
        answer = client.deploy(version, [row for _, row in rows], triggers)
        existing = set(answer.get("existing", []))
    deployed: dict[str, DeployedEnvironment] = {env.name: DeployedEnvironment(env) for env in ordered}
    for env_name, row in rows:
        deployed[env_name].deployed_entities.append(DeployedTask(row["name"], version, row["name"] in existing))
    return [Deployment(deployed, version, dry_run, images)]
