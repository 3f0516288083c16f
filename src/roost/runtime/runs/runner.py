"""``run``, ``with_runcontext`` and ``rerun``: starting runs and driving them to the end.

``init()`` (``initialize.py``) sets what runs default to (``settings.py``); the runner only reads it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import logging
import os
import socket
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from roost.core.compile import compile_task
from roost.errors import ActionAbortedError, InitializationError, RemoteTaskUsageError, StoreError
from roost.runtime import loop_watch, values
from roost.runtime.engine import secret_mounts
from roost.runtime.engine.recording import error_info, failure_phase
from roost.runtime.engine.run_controller import RunController, RunOptions
from roost.runtime.host.launcher import WORKER_ENV
from roost.runtime.ids import ROOT_ACTION, RUN_NAME_MAX, check_run_name, new_run_name
from roost.runtime.loader import find_task, load_module
from roost.runtime.loop import on_runtime
from roost.runtime.runs import settings
from roost.runtime.runs.handles import Run
from roost.runtime.task_api import logs
from roost.store import store_config
from roost.store.open_stores import get_store
from roost.store.records import ActionPhase, ErrorInfo, RunRecord
from roost.store.run_store import RunNameTaken, RunStore
from roost.store.write_failures import CODE as STORE_WRITE_FAILED
from roost.task import TaskTemplate

logger = logging.getLogger("roost")

_MODES = ("local", "remote", "hybrid")
_ISOLATIONS = ("auto", "inline", "process", "ray")


def _check_options(
    mode: str | None,
    name: str | None,
    copy_style: str,
    version: str | None,
    max_action_concurrency: int | None,
    run_base_dir: str | None,
    tracked: bool,
    isolation: str | None,
) -> str:
    # Flyte's default: remote when a control plane is configured (here: a roost server), else local.
    mode = mode or ("remote" if settings.current().endpoint else "local")
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {', '.join(_MODES)}, got {mode!r}")
    if mode == "hybrid" and not (name and run_base_dir):
        raise ValueError("mode='hybrid' requires both name= and run_base_dir=")
    if copy_style == "custom":
        raise ValueError("copy_style='custom' is not supported here")
    if copy_style == "none" and not version:
        raise ValueError("copy_style='none' requires version=")
    if max_action_concurrency is not None and (max_action_concurrency < 0 or max_action_concurrency == 1):
        raise ValueError(
            f"max_action_concurrency must be 0 (unbounded) or at least 2, got {max_action_concurrency}: with 1 the "
            "parent would hold the only slot its children need"
        )
    if tracked and mode != "local":
        raise ValueError("tracked=True needs mode='local'")
    if isolation is not None and isolation not in _ISOLATIONS:
        raise ValueError(f"isolation must be 'auto', 'inline', 'process' or 'ray', got {isolation!r}")
    if mode != "local" and isolation not in (None, "auto", "ray") and not settings.current().endpoint:
        raise ValueError(f"mode={mode!r} runs actions on a Ray cluster; isolation={isolation!r} contradicts it")
    return mode


def resolve_options(options: RunOptions) -> RunOptions:
    """The options of a run about to start, with its isolation decided (``init`` may have come after
    ``with_runcontext``): ``remote``/``hybrid`` modes and ``isolation="ray"`` need a Ray cluster;
    ``init(ray_address=...)`` makes "ray" the default isolation."""
    defaults = settings.current()
    address = settings.ray_address()
    isolation = options.isolation
    if options.mode != "local" and defaults.endpoint:
        # A roost server runs it; where its actions go is the server's choice (--ray, isolation).
        return dataclasses.replace(
            options,
            project=options.project or defaults.project,
            domain=options.domain or defaults.domain,
            org=options.org or defaults.org,
        )
    if options.mode != "local":
        if address is None:
            raise InitializationError(
                "NoControlPlane",
                "user",
                f"mode={options.mode!r} needs a cluster to run on, and none is configured: use mode='local', "
                "or give roost a Ray cluster with flyte.init(ray_address=...) or RAY_ADDRESS (docs/ray.md)",
            )
        isolation = "ray"
    elif isolation is None:
        isolation = "ray" if defaults.ray_address else "auto"
    if isolation == "ray" and address is None:
        raise InitializationError(
            "NoRayCluster",
            "user",
            "isolation='ray' runs actions on a Ray cluster, and none is configured: "
            "call flyte.init(ray_address='127.0.0.1:6379') (or 'auto', 'ray://host:10001') or set RAY_ADDRESS",
        )
    return dataclasses.replace(
        options,
        isolation=isolation,
        ray_address=address if isolation == "ray" else None,
        project=options.project or defaults.project,
        domain=options.domain or defaults.domain,
        org=options.org or defaults.org,
    )


class Runner:
    """What ``with_runcontext(...)`` returns: ``.run(task, ...)`` (and ``.run.aio``), ``.rerun(...)``."""

    def __init__(
        self, name: str | None, options: RunOptions, copy_style: str = "loaded_modules", version: str | None = None
    ):
        self.name = name
        self.options = options
        self.copy_style = copy_style
        self.version = version

    @on_runtime
    async def run(self, task: TaskTemplate[Any], *args: Any, **kwargs: Any) -> Run:
        if not isinstance(task, TaskTemplate):
            if getattr(task, "__roost_trigger__", False):
                if args or kwargs:
                    raise TypeError("a trigger runs with its own inputs: flyte.run(trigger) takes no inputs")
                from roost.runtime.runs import deployed_triggers, server_client

                name = deployed_triggers.fire(task)  # type: ignore[arg-type]
                return Run(server_client.configured(), name, None, self.options.preserve_original_types)  # type: ignore[arg-type]
            if getattr(task, "__roost_remote__", False):
                if self.options.mode != "remote" or not settings.current().endpoint:
                    raise ValueError("remote tasks can be run only in remote mode")
                if args:
                    raise TypeError(f"a deployed task takes keyword inputs only, got {len(args)} positional")
                from roost.runtime.runs.deployed_tasks import run_deployed

                return await run_deployed(task, self.name, resolve_options(self.options), kwargs)  # type: ignore[arg-type]
            raise TypeError(
                f"run() needs a task (a function decorated with @env.task), got {type(task).__name__}: {task!r}"
            )
        options = resolve_options(self.options)
        bound = task.interface.bind(args, kwargs, task.name)
        try:
            encoded = values.encode_inputs(task, bound)
        except RecursionError:
            # The type engine recurses once per level of nesting; Python's stack ends first.
            raise ValueError(f"the inputs of {task.name} are nested too deeply to convert") from None
        if options.mode != "local" and settings.current().endpoint:
            from roost.runtime.runs import remote_runs

            return await remote_runs.submit(task, encoded, self.name, options, self.copy_style, self.version)
        return await execute_run(task, encoded, self.name, options)

    @on_runtime
    async def rerun(
        self,
        run_name: str,
        action_name: str = "a0",
        recover: bool = False,
        force_rerun_actions: list[str] | None = None,
        allow_missing_source_outputs: bool = False,
        **inputs: Any,
    ) -> Run:
        """Run ``run_name``'s task again with its inputs (``inputs`` replace some of them).

        With ``recover=True`` every action that succeeded in that run is not executed again: the new
        run takes its recorded outputs (phase RECOVERED) and runs only the rest. This is how a run
        whose process died (kill -9, power loss) is resumed.
        """
        options = resolve_options(self.options)
        store = get_store()
        source = store.get_run(run_name)
        if source is None:
            raise ValueError(f"no run named {run_name!r} in {store.path}")
        if not source.task_module:
            raise ValueError(f"run {run_name!r} does not record where its task is defined")
        task_name, recorded_inputs = source.task_name, source.inputs
        if action_name != ROOT_ACTION:
            # One action of the run, as the root of a new run: its task, with the inputs it received.
            if recover:
                raise ValueError(
                    "action_name cannot be combined with recover: a run rooted at one action "
                    "has a different action tree; recover the whole run, or rerun the action alone"
                )
            action = store.get_action(run_name, action_name)
            if action is None:
                raise ValueError(f"run {run_name!r} has no action {action_name!r}")
            task_name, recorded_inputs = action.task_name, action.inputs
        task = find_task(load_module(source.task_module), task_name)
        bound = values.decode_inputs(task, recorded_inputs) if recorded_inputs else {}
        bound.update(inputs)
        bound = task.interface.bind((), bound, task.name)
        encoded = values.encode_inputs(task, bound)
        recovered = store.succeeded_actions(run_name) if recover else {}
        if force_rerun_actions:
            # A forced action runs again only if the actions above it run again to call it.
            parents = {a.action_id: a.parent_id for a in store.list_actions(run_name)}
            for action_id in force_rerun_actions:
                current: str | None = action_id
                while current is not None:
                    recovered.pop(current, None)
                    current = parents.get(current)
        return await execute_run(
            task,
            encoded,
            self.name,
            options,
            recovered_from=run_name,
            recovered=recovered,
            next_name=lambda: rerun_name(store, run_name),
        )


def rerun_name(store: RunStore, run_name: str) -> str:
    """The name a rerun of ``run_name`` gets: ``<name>-r1``, ``-r2``, ... (the first one free)."""
    base = run_name.split("-r")[0] if "-r" in run_name and run_name.rsplit("-r", 1)[1].isdigit() else run_name
    n = 1
    while store.get_run(f"{base[: RUN_NAME_MAX - len(f'-r{n}')]}-r{n}") is not None:
        n += 1
    return f"{base[: RUN_NAME_MAX - len(f'-r{n}')]}-r{n}"


def with_runcontext(
    mode: str | None = None,
    *,
    name: str | None = None,
    service_account: str | None = None,
    version: str | None = None,
    copy_style: str = "loaded_modules",
    dry_run: bool = False,
    copy_bundle_to: Any = None,
    interactive_mode: bool | None = None,
    raw_data_path: str | None = None,
    run_base_dir: str | None = None,
    run_start_time: Any = None,
    overwrite_cache: bool = False,
    project: str | None = None,
    domain: str | None = None,
    env_vars: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    interruptible: bool | None = None,
    log_level: int | None = None,
    log_format: str = "console",
    user_log_level: int | None = None,
    reset_root_logger: bool = False,
    disable_run_cache: bool = False,
    queue: str | None = None,
    max_action_concurrency: int | None = None,
    notifications: Any = None,
    custom_context: dict[str, str] | None = None,
    cache_lookup_scope: str = "global",
    preserve_original_types: bool | None = None,
    debug: bool = False,
    tracked: bool = False,
    tracked_strict: bool = False,
    isolation: str | None = None,
) -> Runner:
    """Settings for the runs started with the returned runner's ``.run(task, ...)``.

    roost adds ``isolation``: ``"auto"`` (the default), ``"inline"``, ``"process"`` or ``"ray"`` (on
    the Ray cluster of ``init(ray_address=...)`` or ``$RAY_ADDRESS``; the default after such an init).
    """
    mode = _check_options(mode, name, copy_style, version, max_action_concurrency, run_base_dir, tracked, isolation)
    # Flyte's local runs hand the task's own values back (a program run locally, unchanged, gets its
    # pandas frame); its remote Run converts data frame outputs to flyte.io.DataFrame unless
    # preserve_original_types. Unset, roost does the same per mode; set, it is honoured in every mode.
    if preserve_original_types is None:
        preserve_original_types = mode == "local"
    if name is not None:
        check_run_name(name)
    if env_vars is not None and not all(isinstance(k, str) and isinstance(v, str) for k, v in env_vars.items()):
        raise TypeError("env_vars must map str to str")
    options = RunOptions(
        mode=mode,
        env_vars=dict(env_vars or {}),
        overwrite_cache=overwrite_cache,
        disable_run_cache=disable_run_cache,
        max_action_concurrency=max_action_concurrency or None,
        custom_context=dict(custom_context or {}),
        raw_data_path=raw_data_path,
        run_base_dir=run_base_dir,
        isolation=isolation,
        project=project,
        domain=domain,
        preserve_original_types=preserve_original_types,
    )
    return Runner(name, options, copy_style, version)


@on_runtime
async def run(task: TaskTemplate[Any], *args: Any, **kwargs: Any) -> Run:
    """Run ``task`` with these inputs as a local run; return its handle when it has finished.

    A failing run raises the failure (the error its root task raised).
    """
    return await with_runcontext().run.aio(task, *args, **kwargs)


@on_runtime
async def rerun(run_name: str, recover: bool = False, **inputs: Any) -> Run:
    return await with_runcontext().rerun.aio(run_name, recover=recover, **inputs)


def _base_dir_of(store: Any, run_name: str | None) -> str | None:
    """Where a recorded run kept its actions' files (checkpoints, reports)."""
    source = store.get_run(run_name) if run_name else None
    if source is None:
        return None
    return json.loads(source.options or "{}").get("run_base_dir")  # type: ignore[no-any-return]


async def execute_run(
    task: TaskTemplate[Any],
    encoded: values.EncodedInputs,
    name: str | None,
    options: RunOptions,
    *,
    recovered_from: str | None = None,
    recovered: dict[str, Any] | None = None,
    next_name: Callable[[], str] = new_run_name,
    on_claimed: Callable[[str], None] | None = None,
    resume: bool = False,
) -> Run:
    """Claim the run's name (``name``, else the first free one ``next_name`` gives), then drive the run.
    ``on_claimed`` hears the name once the run is recorded (a server answers its client then).
    ``resume``: ``name`` is an unfinished run whose process died; drive it again under its own record,
    reusing what ``recovered`` holds (its actions that succeeded)."""
    if os.environ.get(WORKER_ENV):
        # A script without an `if __name__ == "__main__":` guard starts its run again when a worker
        # imports it to find its tasks; going on would start workers that import it again, and so on.
        raise RuntimeError(
            "roost.run() was called while a worker process imported your module to find its tasks. "
            'Put the code that starts runs under `if __name__ == "__main__":`.'
        )
    store = get_store()
    config = store_config.current()
    secret_mounts.sweep_stale_once(config.home)  # plaintext left by a roost process killed earlier
    if options.raw_data_path:
        config = dataclasses.replace(config, raw_data_url=store_config.as_url(options.raw_data_path))
    # A local store is shown as a plain path (what task code can open); other stores as their URL.
    raw_data_path = config.raw_data_url
    if raw_data_path.startswith("file://"):
        raw_data_path = str(Path(urllib.parse.unquote(urllib.parse.urlparse(raw_data_path).path)))
    spec = compile_task(task)

    def claim(run_name: str) -> tuple[RunRecord, str]:
        """Record the run under ``run_name`` (RunNameTaken when another run holds it): its first write."""
        check_run_name(run_name)
        run_base_dir = options.run_base_dir or str(config.home / "runs" / run_name)
        record = RunRecord(
            name=run_name,
            task_name=task.name,
            phase=ActionPhase.QUEUED,  # RUNNING once its root action is recorded (see below)
            mode=options.mode,
            created_at=time.time(),
            started_at=time.time(),
            inputs=encoded.data,
            pid=os.getpid(),
            host=socket.gethostname(),
            task_module=spec.module,
            task_function=spec.function,
            recovered_from=recovered_from,
            options=json.dumps(
                {
                    "run_base_dir": run_base_dir,
                    "raw_data_path": raw_data_path,
                    "isolation": options.isolation,
                    "max_action_concurrency": options.max_action_concurrency,
                    "env_var_names": sorted(options.env_vars),
                    **({"version": options.deployed_version} if options.deployed_version else {}),
                    **({"trigger": options.trigger} if options.trigger else {}),
                    **({"started_by": options.started_by} if options.started_by else {}),
                }
            ),
        )
        store.claim_run(record)
        return record, run_base_dir

    if resume:
        # The run's process died: this one takes its record over (same name, what succeeded reused).
        existing = store.get_run(name) if name is not None else None
        if existing is None or existing.phase.is_terminal:
            raise ValueError(f"there is no unfinished run {name!r} to resume")
        run_base_dir = json.loads(existing.options or "{}").get("run_base_dir") or str(config.home / "runs" / name)
        record = dataclasses.replace(existing, phase=ActionPhase.QUEUED, pid=os.getpid(), host=socket.gethostname())
        store.put_run(record)
    elif name is not None:
        record, run_base_dir = claim(name)
    else:
        # A generated name taken meanwhile (another rerun of the same run) is no error: take the next.
        for attempt in itertools.count():
            try:
                record, run_base_dir = claim(next_name())
                break
            except RunNameTaken:
                if attempt >= 100:
                    raise
    run_name = record.name
    if on_claimed is not None:
        on_claimed(run_name)
    try:
        controller = RunController(
            store,
            run_name,
            options,
            run_base_dir=run_base_dir,
            raw_data_path=raw_data_path,
            store_config=config,
            recovered=recovered,
            recovered_base_dir=_base_dir_of(store, recovered_from),
            recovered_from=recovered_from,
        )
        loop = asyncio.get_running_loop()
        controller.bind_loop(loop)
        logs.install()
        root = controller.root_action(task, encoded)
    except BaseException as e:
        # Recorded, then refused before its root started (bad options, a spec that does not compile):
        # the run is failed, not left queued.
        record.phase, record.error, record.ended_at = ActionPhase.FAILED, error_info(e), time.time()
        store.mark(record)
        store.flush()
        raise
    # Marked after the root action, in the same batch: whoever sees the run running finds its root.
    record.phase = ActionPhase.RUNNING
    store.mark(record)
    root_task = asyncio.ensure_future(controller.execute(root))
    aborted = []

    def on_abort() -> None:
        aborted.append(True)
        loop.call_soon_threadsafe(root_task.cancel)
        watcher = loop_watch.current()
        if watcher is not None:
            watcher.abort()  # async code blocking the loop would keep the cancellation from it

    store_failed: list[str] = []

    def on_write_failure(reason: str) -> None:
        # The run cannot be recorded: start nothing more, and fail it (recorded when the store can be).
        store_failed.append(reason)
        loop.call_soon_threadsafe(root_task.cancel)

    store.watch_run(run_name, on_abort, on_write_failure)
    store.watch_action_aborts(run_name, controller.abort_action)
    try:
        await root_task
        record.phase = ActionPhase.SUCCEEDED
        record.outputs = root.record.outputs
    except asyncio.CancelledError:
        if store_failed:
            record.phase = ActionPhase.FAILED
            record.error = ErrorInfo(STORE_WRITE_FAILED, "system", store_failed[0])
            raise StoreError(store_failed[0]) from None
        record.phase = ActionPhase.ABORTED
        record.error = ErrorInfo("ActionAborted", "user", f"run {run_name} was aborted")
        if aborted:
            raise ActionAbortedError(f"run {run_name} was aborted") from None
        raise
    except BaseException as e:
        record.phase = failure_phase(e)
        record.error = root.record.error or error_info(e)
        raise
    finally:
        controller.close()
        store.unwatch_run(run_name)
        record.ended_at = time.time()
        store.mark(record)
        store.flush()
    return Run(store, run_name, task, options.preserve_original_types)


async def execute_action(
    task: TaskTemplate[Any],
    encoded: values.EncodedInputs,
    run_name: str,
    action_id: str,
    parent_id: str,
    group: str | None,
    custom: dict[str, str],
    options: RunOptions,
) -> bytes:
    """Run ``task`` as the action ``action_id``, a child of ``parent_id``, in the run ``run_name`` that
    another controller drives: a deployed task called by one of its actions, run here where its code
    is. Recorded in that run; its packed outputs. Its abort is asked through the store, as any
    action's is (its caller asks when it is cancelled)."""
    store = get_store()
    config = store_config.current()
    record = store.get_run(run_name)
    if record is None or record.phase.is_terminal:
        raise ValueError(f"run {run_name!r} is not going on")
    recorded = json.loads(record.options or "{}")
    controller = RunController(
        store,
        run_name,
        options,
        run_base_dir=recorded.get("run_base_dir") or str(config.home / "runs" / run_name),
        raw_data_path=recorded.get("raw_data_path") or config.raw_data_url,
        store_config=config,
    )
    controller.bind_loop(asyncio.get_running_loop())
    logs.install()
    action = controller.new_action(task, action_id, encoded, None, group, custom, parent_id=parent_id)
    if options.deployed_version:
        action.record.isolation_reason = (
            f"{action.record.isolation_reason}; deployed version {options.deployed_version}"
        )

    async def watch_abort() -> None:
        while True:
            await asyncio.sleep(0.5)
            reason = await asyncio.to_thread(store.action_abort_reason, run_name, action_id)
            if reason is not None:
                controller.abort_action(action_id, reason)
                return

    watcher = asyncio.ensure_future(watch_abort())
    try:
        await controller.execute(action)
        return action.record.outputs or b""
    finally:
        watcher.cancel()
        controller.close()
        store.flush()


def load_task(location: str, name: str) -> TaskTemplate[Any]:
    task = find_task(load_module(location), name)
    if getattr(task, "__roost_remote__", False):
        raise RemoteTaskUsageError("remote tasks cannot run locally")
    return task
