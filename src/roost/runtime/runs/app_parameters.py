"""An app's start-up parameters, resolved before it starts: the value given when serving it, else the
declared one; another run's output (``RunOutput``); another app's endpoint (``AppEndpoint``). A
required one left without a value is an error naming it. Also the error of an app that did not start."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from roost.spec.app_environment import AppEnvironment
from roost.spec.app_types import AppEndpoint, ArtifactValue, RunOutput
from roost.spec.environment import list_loaded_environments
from roost.store.open_stores import get_store
from roost.store.records import ActionPhase


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


def check_parameter_names(app: AppEnvironment, given: dict[str, Any]) -> None:
    """A ValueError for a given parameter the app does not declare, or a declared one left without a
    value (what can be said without resolving any)."""
    unknown = sorted(set(given) - {p.name for p in app.parameters})
    if unknown:
        raise ValueError(f"app {app.name!r} has no parameter {', '.join(map(repr, unknown))}")
    for parameter in app.parameters:
        if given.get(parameter.name, parameter.value) is None:
            raise ValueError(
                f"app {app.name!r} needs a value for its parameter {parameter.name!r}: "
                f"give one when serving it (roost serve ... --param {parameter.name}=VALUE)"
            )


def resolve_parameters(
    app: AppEnvironment, given: dict[str, Any], endpoint_of: Callable[[str], str] | None = None
) -> dict[str, dict[str, Any]]:
    """Every parameter's value, as the app's process materialises it: given at serve time or declared;
    another run's output; another app's endpoint (``endpoint_of(name)`` where a server serves it,
    else its declared one). A ValueError for one without a value."""
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
        if isinstance(value, AppEndpoint) and endpoint_of is not None:
            value = endpoint_of(value.app_name)
        elif isinstance(value, AppEndpoint):
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
