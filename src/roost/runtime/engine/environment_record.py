"""What is recorded of the environment an action ran with: its image, resources and limits, and the
NAMES of its variables and secrets -- never a value, since the store is read by anyone who can see
the run (the console, ``roost get``).

The text is worked out once per task spec (every action of a task shares it) and set on the action's
record when its first attempt starts.
"""

from __future__ import annotations

import json
from typing import Any

from roost.core.task_spec import TaskSpec
from roost.spec.quantities import format_bytes, format_cpu
from roost.spec.resources import CanonicalResources


def environment_text(spec: TaskSpec, run_env_names: tuple[str, ...] = ()) -> str:
    """The JSON recorded as ``ActionRecord.environment`` for actions of ``spec`` (``run_env_names``:
    the variables the run's context adds to every action)."""
    secrets = []
    for secret in spec.secrets:
        shown: dict[str, str] = {"key": secret.key}
        if secret.group:
            shown["group"] = secret.group
        if secret.as_env_var:
            shown["env_var"] = secret.as_env_var
        if secret.mount is not None:
            shown["mount"] = str(secret.mount)
        secrets.append(shown)
    summary: dict[str, Any] = {
        "environment": spec.env_name,
        "image": spec.image_uri,
        "resources": resource_map(spec.resources),
        "env_var_names": sorted({*spec.env_vars, *run_env_names}),
        "secrets": secrets,
    }
    return json.dumps(summary, separators=(",", ":"))


def resource_map(r: CanonicalResources) -> dict[str, str]:
    """Requests and limits as quantities a person reads (``"500m"``, ``"1Gi"``); what was not asked for
    is left out."""
    shown: dict[str, str] = {}
    for name, value, fmt in (
        ("cpu request", r.cpu_request, format_cpu),
        ("cpu limit", r.cpu_limit, format_cpu),
        ("memory request", r.memory_request, format_bytes),
        ("memory limit", r.memory_limit, format_bytes),
        ("disk", r.disk, format_bytes),
    ):
        if value is not None:
            shown[name] = fmt(value)
    if r.shm is not None:
        shown["shm"] = r.shm if isinstance(r.shm, str) else format_bytes(r.shm)
    if r.gpu is not None:
        shown["gpu"] = str(r.gpu)
    return shown
