"""What runs inside an app's process: its start-up parameters made real, then its lifecycle.

An app is served as the one action of a run of its own (``runtime/runs/app_serving.py``), in a worker
process set up as any task's is -- the environment's variables, secrets, resource limits and image
virtualenv -- whose code is ``run_app``: it loads the app's module, finds the ``AppEnvironment`` by
name, materialises the parameters (files downloaded to their mount, variables exported, every value
readable with ``flyte.app.get_parameter``), then runs ``on_startup``, the ``@app.server`` function (or
the ``command`` as a child process), and ``on_shutdown`` when it stops -- by itself, or because the app
was deactivated (the run aborted, which cancels this code).

A replica of a server with a Ray cluster runs this same runtime on a Ray node instead: its worker only
drives the actor that starts it there (``app_on_ray.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from roost.runtime.host.launcher import WORKER_ENV
from roost.runtime.task_api.app_context import MODE_ENV, PARAMETERS_ENV
from roost.runtime.worker.app_on_ray import RAY_ADDRESS_ENV, serve_on_ray
from roost.runtime.worker.parent_death import die_with_parent

STOP_GRACE_S = 10.0
# How long a replica on Ray may take to listen on its node (Ray may first start a worker for it).
RAY_START_TIMEOUT_S = 120.0


def find_app(location: str, name: str) -> Any:
    """The AppEnvironment called ``name`` that ``location`` (a file or a module) declares."""
    from roost.runtime.loader import load_module
    from roost.spec.app_environment import AppEnvironment
    from roost.spec.environment import list_loaded_environments

    load_module(location)
    for env in list_loaded_environments():
        if isinstance(env, AppEnvironment) and env.name == name:
            return env
    raise LookupError(f"{location} declares no app named {name!r}")


async def _materialise(parameters: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Each parameter as the app reads it: text, or the local path of a downloaded file or folder;
    those with ``env_var`` exported."""
    from roost.types.dir import Dir
    from roost.types.file import File

    values: dict[str, str] = {}
    for name, p in parameters.items():
        value = p["value"]
        if p["kind"] in ("file", "dir") and p.get("download", True):
            target = p.get("mount") or tempfile.mkdtemp(prefix=f"roost-app-{name}-")
            if p["kind"] == "file":
                local = Path(target) / Path(value).name if p.get("mount") is None else Path(target)
                if local.is_dir():
                    local = local / Path(value).name
                value = await File.from_existing_remote(value).download(str(local))
            else:
                value = await Dir.from_existing_remote(value).download(str(target))
            value = str(value)
        values[name] = value
        if p.get("env_var"):
            os.environ[p["env_var"]] = value
    return values


def _bind(fn: Any, values: dict[str, str]) -> dict[str, str]:
    """The parameters a lifecycle function asks for by name (all of them for ``**kwargs``)."""
    accepted = inspect.signature(fn).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values()):
        return dict(values)
    return {k: v for k, v in values.items() if k in accepted}


async def _call(fn: Any, values: dict[str, str]) -> Any:
    result = fn(**_bind(fn, values))
    return await result if inspect.isawaitable(result) else result


async def run_app(location: str, app_name: str, parameters: str, port: int, mode: str = "local") -> None:
    """Serve the app ``app_name`` of ``location`` until it stops or is stopped (``mode``: what
    ``flyte.app.ctx().mode`` says: "local" here, "remote" for a replica a roost server runs)."""
    from roost.spec.app_types import Port

    ray_address = os.environ.pop(RAY_ADDRESS_ENV, None)
    if ray_address:  # a replica of a server with a Ray cluster: the app runs on a node of it
        await _until_stopped(serve_on_ray(location, app_name, parameters, ray_address, RAY_START_TIMEOUT_S))
        return
    app = find_app(location, app_name)
    # The module is imported: from here on, the app's code may start runs (flyte.run in a request
    # handler) as any program does -- the guard against runs started by a worker's import is for tasks.
    os.environ.pop(WORKER_ENV, None)
    if port and port != app.get_port().port:
        app.port = Port(port, app.get_port().name)  # served on another port than declared
    os.environ["PORT"] = str(app.get_port().port)
    os.environ[MODE_ENV] = mode
    values = await _materialise(json.loads(parameters))
    folder = tempfile.mkdtemp(prefix="roost-app-")
    with open(Path(folder) / "parameters.json", "w") as f:
        json.dump(values, f)
    os.environ[PARAMETERS_ENV] = str(Path(folder) / "parameters.json")
    if app.on_startup_fn is not None:
        await _call(app.on_startup_fn, values)
    try:
        await _until_stopped(
            _serve_function(app.server_fn, values) if app.server_fn is not None else _serve_command(app)
        )
    finally:
        if app.on_shutdown_fn is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(_call(app.on_shutdown_fn, values))
        print(f"app {app_name} stopped", flush=True)


async def _until_stopped(body: Any) -> None:
    """Await the app's serving ``body`` until it ends, or SIGTERM stops it (cancelled: it ends as it
    should, and this returns)."""
    serving = asyncio.ensure_future(body)
    stopped: list[bool] = []

    def stop() -> None:
        # SIGTERM (deactivate): the server is stopped, on_shutdown runs, the app ends as it should.
        stopped.append(True)
        serving.cancel()

    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # not the main thread
        loop.add_signal_handler(signal.SIGTERM, stop)
    try:
        await serving
    except asyncio.CancelledError:
        if not stopped:
            raise
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.remove_signal_handler(signal.SIGTERM)


async def _serve_function(fn: Any, values: dict[str, str]) -> None:
    if inspect.iscoroutinefunction(fn):
        await fn(**_bind(fn, values))
        return
    # A blocking server: on a thread of its own. Stopping the app cancels this wait; the thread ends
    # with the process.
    done = asyncio.get_running_loop().create_future()

    def serve() -> None:
        try:
            fn(**_bind(fn, values))
            done.get_loop().call_soon_threadsafe(lambda: done.done() or done.set_result(None))
        except BaseException as e:  # told to the waiting coroutine, raised there
            error = e
            done.get_loop().call_soon_threadsafe(lambda: done.done() or done.set_exception(error))

    # In the action's context: what the server prints is the app's log.
    context = contextvars.copy_context()
    threading.Thread(target=context.run, args=(serve,), name="roost-app-server", daemon=True).start()
    await done


async def _serve_command(app: Any) -> None:
    """The app's ``command`` (or, without one, its ``args`` as a command), shell-split with ``$VAR``
    expanded, as a child process whose output is the app's; stopped with SIGTERM, then SIGKILL."""
    argv = [os.path.expandvars(a) for a in _split(app.command) + _split(app.args)]
    if not argv:
        raise ValueError(f"app {app.name!r} has no @server function, command or args to serve")
    process = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=die_with_parent
    )

    def relay() -> None:
        assert process.stdout is not None
        for line in iter(process.stdout.readline, b""):
            sys.stdout.write(line.decode(errors="replace"))
            sys.stdout.flush()

    context = contextvars.copy_context()
    relaying = threading.Thread(target=context.run, args=(relay,), name="roost-app-output", daemon=True)
    relaying.start()
    try:
        code = await asyncio.to_thread(process.wait)
        relaying.join(timeout=2)
        if code != 0:
            raise RuntimeError(f"the app's command exited with status {code}: {shlex.join(argv)}")
    finally:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(asyncio.to_thread(process.wait), STOP_GRACE_S)
            except asyncio.TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)


def _split(value: list[str] | str | None) -> list[str]:
    if value is None:
        return []
    return shlex.split(value) if isinstance(value, str) else [str(v) for v in value]
