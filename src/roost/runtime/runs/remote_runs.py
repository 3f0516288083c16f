"""Runs on a roost server (``mode="remote"`` after ``init(endpoint=...)``): package the code, send it
once, submit the task with its packed inputs, hand back the run's handle at once.

The handle is the same ``Run`` a local run returns, reading through the server's API instead of a
store file, so ``wait()``, ``outputs()``, logs, ``abort()`` and the action tree work the same way.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from roost.core.compile import compile_task
from roost.runtime import code_bundles, messages, values
from roost.runtime.engine.run_controller import RunOptions
from roost.runtime.runs import server_client, settings
from roost.runtime.runs.handles import Run
from roost.task import TaskTemplate

# The with_runcontext settings a server applies to a run (RunOptions fields); the rest -- where its
# files go, its isolation -- is the server's to decide.
SUBMITTED_OPTIONS = (
    "env_vars",
    "overwrite_cache",
    "disable_run_cache",
    "max_action_concurrency",
    "custom_context",
    "project",
    "domain",
    "org",
)


def project_root() -> Path:
    """What the code bundle holds files from: ``init(root_dir=...)``, else the working directory."""
    root = settings.current().root_dir
    return Path(root).expanduser().resolve() if root else Path.cwd().resolve()


def module_in_bundle(location: str, root: Path) -> str:
    """Where the server finds the task's module: a script by its path inside the bundle, a module
    by its dotted name."""
    if not (location.endswith(".py") or os.sep in location or "/" in location):
        return location
    path = Path(location).resolve()
    if not path.is_relative_to(root):
        raise ValueError(
            f"the script {path} is outside the project root {root}: the server receives only the code under "
            "the root; run from the project's folder or pass flyte.init(root_dir=...)"
        )
    return path.relative_to(root).as_posix()


async def submit(
    task: TaskTemplate[Any],
    encoded: values.EncodedInputs,
    name: str | None,
    options: RunOptions,
    copy_style: str,
    version: str | None,
) -> Run:
    client = server_client.configured()
    assert client is not None  # the runner sends runs here only with an endpoint
    spec = compile_task(task)
    root = project_root()
    bundle = code_bundles.pack(copy_style, root)
    if bundle is not None:
        client.upload_bundle(bundle.digest, bundle.data)
    run_options: dict[str, Any] = {field: getattr(options, field) for field in SUBMITTED_OPTIONS}
    run_options["mode"] = options.mode
    accepted = client.submit(
        messages.SubmitRun(
            name=name,
            bundle=bundle.digest if bundle is not None else None,
            module=module_in_bundle(spec.module, root),
            task=task.name,
            inputs=encoded.data,
            inputs_hash=encoded.hash,
            options=run_options,
            version=version,
        )
    )
    if options.mode == "hybrid":  # the root action runs here, until the run ends on the server
        from roost.runtime.worker.hybrid_root import HybridRoot

        def ended() -> bool:
            record = client.get_run(accepted.name)
            return record is not None and record.phase.is_terminal

        await HybridRoot(
            accepted.name,
            task,
            lambda outgoing, wait: client.exchange(accepted.name, outgoing, wait),
            ended,
            lambda module: module_in_bundle(module, root),
            server_client.ServerUnreachable,
        ).drive()
    return Run(client, accepted.name, task, options.preserve_original_types)  # type: ignore[arg-type]


def options_from(submitted: dict[str, Any], base: RunOptions) -> RunOptions:
    """The RunOptions of a submitted run: ``base`` (the server's) with the client's settings; a hybrid
    run's root action runs in its client."""
    known = {k: v for k, v in submitted.items() if k in SUBMITTED_OPTIONS}
    if submitted.get("mode") == "hybrid":
        known.update(mode="hybrid", root_on_client=True)
    return dataclasses.replace(base, **known)
