"""A bundle host: the process that runs the server's runs of one code bundle.

The server never imports user code: each code bundle (one version of a project's code) gets a host
process, started in the bundle's folder, that imports the bundle's modules and drives its runs with
the same controller, policies and executors as a local run. A host lives as long as the server, so
the pools of reusable environments it holds stay warm from one run to the next (a new bundle version
is a new host, with new pools).

The server speaks to it over a socket pair (``python -m roost.server.bundle_host FD``), in frames of
``runtime.messages``: ``SubmitRun`` in, ``RunAccepted`` once the run is recorded or ``RunRefused``.
Everything else about a run -- its phases, outputs, logs, abort requests -- goes through the store.
When the server goes away the host starts nothing more, lets the runs in flight finish, and exits.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import json
import logging
import os
import socket
import struct
import sys
import threading
import traceback
from pathlib import Path

import msgpack

from roost.core.compile import compile_task
from roost.errors import ActionAbortedError, BaseRuntimeError
from roost.images.build import build_image
from roost.runtime import frames, messages, values
from roost.runtime.engine import deployed_calls
from roost.runtime.engine.condition_waits import SERVER_URL_ENV
from roost.runtime.engine.executors import client
from roost.runtime.engine.executors.ray_options import ray_options
from roost.runtime.engine.run_controller import RunOptions
from roost.runtime.loader import find_task, load_module
from roost.runtime.loop import runtime_loop
from roost.runtime.runs import remote_runs
from roost.runtime.runs.app_parameters import resolve_parameters
from roost.runtime.runs.app_serving import app_task, signal_app
from roost.runtime.runs.runner import execute_action, execute_run
from roost.runtime.wire import error_to_wire
from roost.runtime.worker.app_code import find_app
from roost.runtime.worker.app_on_ray import RAY_ADDRESS_ENV, RAY_OPTIONS_ENV
from roost.store.open_stores import get_store
from roost.store.run_store import RunNameTaken

logger = logging.getLogger("roost.server")

# What the server set for every run of its hosts (isolation, Ray address): RunOptions fields as JSON.
BASE_OPTIONS_ENV = "ROOST_SERVER_RUN_OPTIONS"
# How long an app's replica may take to stop after SIGTERM before its run is aborted (its process killed).
APP_STOP_GRACE_S = 10.0


class Host:
    def __init__(self, channel: socket.socket, base: RunOptions):
        self._channel = channel
        self._base = base
        self._send_lock = threading.Lock()
        self._running: set[concurrent.futures.Future[object]] = set()
        self._idle = threading.Condition()
        self._draining = False  # told to stop: take no new run, exit when the last one ends
        self._app_runs: set[str] = set()  # the runs of app replicas it serves

    def send(self, message: messages.Message) -> None:
        with self._send_lock:
            try:
                self._channel.sendall(frames.encode(message))
            except OSError:  # the server is gone: the run goes on, recorded in the store
                pass

    def serve(self) -> None:
        self.send(messages.Ready(os.getpid(), sys.executable))
        while True:
            message = _read(self._channel)
            if message is None:
                break
            if isinstance(message, messages.SubmitRun):
                self.start(message)
            elif isinstance(message, messages.RunMessages):
                for each in message.messages:  # in order: a call's reply is sent when it ends
                    asyncio.run_coroutine_threadsafe(client.deliver(message.run, each), runtime_loop())
            elif isinstance(message, messages.BuildImages):
                threading.Thread(target=self.build_images, args=(message,), daemon=True).start()
            elif isinstance(message, messages.CallDeployed):
                self.start_deployed(message)
            elif isinstance(message, messages.StartApp):
                self.start_app(message)
            elif isinstance(message, messages.DeployedCallEnded):
                runtime_loop().call_soon_threadsafe(deployed_calls.deliver, message)
            elif isinstance(message, messages.Shutdown):
                # Runs in flight go on (a hybrid run's client still talks to them through here).
                with self._idle:
                    self._draining = True
                    if not self._running:
                        break
        # An app's replica serves until it is stopped: with the server gone nobody would stop it.
        self._stop_apps()
        with self._idle:  # the server is gone or asked us to stop: finish what runs, then exit
            self._idle.wait_for(lambda: not self._running)

    def refuse(self, name: str, error: BaseException, status: int = 400) -> None:
        text = f"{type(error).__name__}: {error}".splitlines()[0]
        code = error.code if isinstance(error, BaseRuntimeError) else type(error).__name__
        self.send(messages.RunRefused(name, messages.WireError(code, "user", text), status))

    def build_images(self, request: messages.BuildImages) -> None:
        """Build the images the tasks of a deployment run in -- each once -- as their runs find them:
        the local virtualenv of an image that adds packages. One line per image."""
        lines, failed, seen = [], [], set()
        for module, names in request.modules.items():
            try:
                location = str(Path.cwd() / module) if module.endswith(".py") else module
                loaded = load_module(location)
                images = [(name, compile_task(find_task(loaded, name)).image) for name in names]
            except Exception as e:
                failed.append(module)
                lines.append(f"{module}: {type(e).__name__}: {e}".splitlines()[0])
                continue
            for name, image in images:
                if image is None or id(image) in seen:
                    continue
                seen.add(id(image))
                try:
                    outcome = build_image(image, local_only=True)
                    if outcome.local is None or outcome.local.venv is not None:  # an image with packages
                        lines.append(f"{name}: {outcome.detail}")
                except Exception as e:
                    failed.append(name)
                    lines.append(f"{name}: {type(e).__name__}: {e}".splitlines()[0])
        self.send(messages.ImagesBuilt(request.build, lines, failed))

    def start_deployed(self, call: messages.CallDeployed) -> None:
        """A deployed task of this bundle called by an action of a run (of this or another host): run it
        as that action's child, and say how it ended."""

        def ended(outputs: bytes | None = None, error: BaseException | None = None) -> None:
            wire = error_to_wire(error) if error is not None else None
            self.send(messages.DeployedCallEnded(call.run, call.action_id, outputs, wire))

        try:
            location = str(Path.cwd() / call.module) if call.module.endswith(".py") else call.module
            task = find_task(load_module(location), call.task)
            given = msgpack.unpackb(call.values, raw=False, timestamp=3)
            if not isinstance(given, dict):
                raise TypeError("the inputs of a deployed task are a map of name -> value")
            encoded = values.encode_inputs(task, task.interface.bind((), given, task.name))
        except Exception as e:
            ended(error=e)
            return
        options = dataclasses.replace(self._base, deployed_version=call.version)
        future = asyncio.run_coroutine_threadsafe(
            execute_action(task, encoded, call.run, call.action_id, call.parent, call.group, call.custom, options),
            runtime_loop(),
        )
        with self._idle:
            self._running.add(future)  # type: ignore[arg-type]

        def done(finished: concurrent.futures.Future[bytes]) -> None:
            if finished.cancelled():
                ended(error=ActionAbortedError(f"action {call.action_id} was aborted"))
            elif finished.exception() is not None:
                ended(error=finished.exception())
            else:
                ended(outputs=finished.result())
            self._finished(finished)  # type: ignore[arg-type]

        future.add_done_callback(done)

    def start_app(self, request: messages.StartApp) -> None:
        """Serve a replica of an app of this bundle as the run the server named, on the port it chose:
        the same run a local ``flyte.serve`` makes (the app runtime as a task in a worker set up with
        the app's settings), its parameters resolved here, where the store is."""
        try:
            location = str(Path.cwd() / request.module) if request.module.endswith(".py") else request.module
            app = find_app(location, request.app)
            server = os.environ.get(SERVER_URL_ENV, "")
            parameters = resolve_parameters(app, dict(request.parameters), lambda other: f"{server}/apps/{other}")
            task = app_task(app)
            env_vars = dict(request.env_vars)
            if self._base.ray_address:  # the replica's worker starts the app on a node of the cluster
                env_vars[RAY_ADDRESS_ENV] = self._base.ray_address
                # The app's resources and image packages are asked of Ray, as a task's; the worker here
                # only drives the actor, and is not held to the app's limits.
                env_vars[RAY_OPTIONS_ENV] = json.dumps(ray_options(compile_task(task)).actor_options())
                task = app_task(app, limits=False)
            arguments = (location, app.name, json.dumps(parameters), request.port, "remote")
            bound = task.interface.bind(arguments, {}, task.name)
            encoded = values.encode_inputs(task, bound)
        except Exception as e:  # the bundle's code, or its parameters: the user's to fix
            self.refuse(request.run, e)
            return
        options = dataclasses.replace(self._base, isolation="process", env_vars=env_vars)
        claimed: list[str] = []

        def on_claimed(run_name: str) -> None:
            claimed.append(run_name)
            self.send(messages.RunAccepted(run_name))

        with self._idle:
            self._app_runs.add(request.run)
        future = asyncio.run_coroutine_threadsafe(
            execute_run(task, encoded, request.run, options, on_claimed=on_claimed), runtime_loop()
        )
        with self._idle:
            self._running.add(future)  # type: ignore[arg-type]

        def ended(done: concurrent.futures.Future[object]) -> None:
            error = done.exception() if not done.cancelled() else None
            with self._idle:
                self._app_runs.discard(request.run)
            if claimed:
                self.send(messages.RunEnded(claimed[0]))
            else:
                self.refuse(request.run, error or RuntimeError("the app's run did not start"))
            self._finished(done)

        future.add_done_callback(ended)  # type: ignore[arg-type]

    def _stop_apps(self) -> None:
        """Stop the replicas still served: SIGTERM (the app stops as it should), then their runs aborted
        after a grace."""
        with self._idle:
            runs = list(self._app_runs)
        for run in runs:
            if not signal_app(run):
                get_store().request_abort(run)
        with self._idle:
            self._idle.wait_for(lambda: not self._app_runs, timeout=APP_STOP_GRACE_S)
            left = list(self._app_runs)
        for run in left:
            get_store().request_abort(run)

    def _finished(self, future: concurrent.futures.Future[object]) -> None:
        """A run or deployed action ended: a draining host with nothing left exits."""
        with self._idle:
            self._running.discard(future)
            self._idle.notify_all()
            if self._draining and not self._running:
                with contextlib.suppress(OSError):  # the reading loop sees the end, and exits
                    self._channel.shutdown(socket.SHUT_RDWR)

    def start(self, submission: messages.SubmitRun) -> None:
        name = submission.name or ""
        if self._draining:  # the server sends runs to the newer host: this one is on its way out
            self.refuse(name, RuntimeError("this bundle host is stopping"), 503)
            return
        try:
            location = submission.module
            if location.endswith(".py"):
                location = str(Path.cwd() / location)
            task = find_task(load_module(location), submission.task)
            options = remote_runs.options_from(submission.options, self._base)
            options = dataclasses.replace(
                options,
                deployed_version=submission.version,
                trigger=submission.trigger,
                started_by=submission.started_by,
            )
        except Exception as e:  # the bundle's code: any error it raises on import is the user's
            logger.debug("run %s refused:\n%s", name, traceback.format_exc())
            self.refuse(name, e)
            return
        if submission.values is not None:  # plain values from a client without the code: typed here
            try:
                # timestamp=3: a time (a trigger's firing time) arrives as a datetime, in UTC
                given = msgpack.unpackb(submission.values, raw=False, timestamp=3)
                if not isinstance(given, dict):
                    raise TypeError("the inputs of a deployed task are a map of name -> value")
                encoded = values.encode_inputs(task, task.interface.bind((), given, task.name))
            except Exception as e:
                self.refuse(name, e)
                return
        else:
            encoded = values.EncodedInputs(submission.inputs, submission.inputs_hash)
        claimed: list[str] = []

        def on_claimed(run_name: str) -> None:
            claimed.append(run_name)
            self.send(messages.RunAccepted(run_name))

        resume: dict[str, object] = {}
        if submission.resume:  # what the run finished before its host died is not run again
            resume = {"resume": True, "recovered_from": name, "recovered": get_store().succeeded_actions(name)}
        elif submission.rerun_of is not None:  # a rerun: recorded as one; with recover, what succeeded is reused
            recovered = get_store().succeeded_actions(submission.rerun_of) if submission.recover else {}
            resume = {"recovered_from": submission.rerun_of, "recovered": recovered}
        future = asyncio.run_coroutine_threadsafe(
            execute_run(task, encoded, name, options, on_claimed=on_claimed, **resume), runtime_loop()
        )
        with self._idle:
            self._running.add(future)  # type: ignore[arg-type]

        def ended(done: concurrent.futures.Future[object]) -> None:
            error = done.exception() if not done.cancelled() else None
            if claimed:
                self.send(messages.RunEnded(claimed[0]))
            if not claimed:  # it failed before it was recorded: the client hears why
                if isinstance(error, RunNameTaken):
                    self.refuse(name, ValueError(f"a run named {name!r} exists already"), 409)
                else:
                    self.refuse(name, error or RuntimeError("the run did not start"))
            self._finished(done)

        future.add_done_callback(ended)  # type: ignore[arg-type]


_HEADER = struct.Struct(">I")


def _read(channel: socket.socket) -> messages.Message | None:
    """The next message from the server; None when it has gone (or said something unreadable)."""
    header = _read_exactly(channel, _HEADER.size)
    if header is None:
        return None
    body = _read_exactly(channel, _HEADER.unpack(header)[0])
    if body is None:
        return None
    try:
        return messages.decode(body)
    except messages.ProtocolError as e:
        logger.error("bundle host: %s; stopping", e)
        return None


def _read_exactly(channel: socket.socket, n: int) -> bytes | None:
    chunks = bytearray()
    while len(chunks) < n:
        try:
            chunk = channel.recv(n - len(chunks))
        except OSError:
            return None
        if not chunk:
            return None
        chunks += chunk
    return bytes(chunks)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    channel = socket.socket(fileno=int(sys.argv[1]))
    if str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))  # the bundle's modules import as they do in the project
    base = RunOptions(mode="remote", on_server=True, **json.loads(os.environ.pop(BASE_OPTIONS_ENV, "{}")))
    host = Host(channel, base)
    client.set_channel(_ClientChannel(host))
    deployed_calls.set_channel(host.send)
    host.serve()


class _ClientChannel:
    """Messages for the client of a hybrid run's root action: to the server, which holds them for it."""

    def __init__(self, host: Host):
        self._host = host

    def send(self, run_name: str, message: messages.Message) -> None:
        self._host.send(messages.RunMessages(run_name, [message]))  # type: ignore[list-item]


if __name__ == "__main__":
    main()
