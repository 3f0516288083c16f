"""The code that runs inside Ray: one action per Ray task (``run_action``), many on a replica actor
(``Replica``), and the per-run call broker (``CallBroker``).

A task called by code running here becomes a child action of the controller, which stays the only
writer of the run store: the call goes to the run's broker actor, the controller takes it from there
(``engine/executors/ray.py``), runs the child like any other and posts the outputs back.

While an action in a Ray task waits for its children, its worker's main thread is blocked in
``ray.wait`` on those calls -- the way Ray learns that a task is blocked and lends its CPU to others.
Without it a tree of nested actions deeper than the cluster has CPUs would wait for itself forever.
The action's code therefore runs on a background event loop, never on the main thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ray

from roost.errors import RuntimeUserError
from roost.runtime import masking, values
from roost.runtime.host.launcher import WORKER_ENV
from roost.runtime.messages import (
    ActionContext,
    CallReply,
    CallRequest,
    LogLine,
    RayReply,
    RayRun,
    Setup,
    StoreLocation,
    TraceBegin,
    TraceEnd,
)
from roost.runtime.task_api import tracing
from roost.runtime.task_api.calls import PreparedCall, TaskCalls, call_message
from roost.runtime.task_api.logs import LogSink, install
from roost.runtime.task_api.task_context import RunFacts
from roost.runtime.wire import error_to_wire, exception_from_wire, task_from_wire
from roost.runtime.worker.action_code import run_code
from roost.runtime.worker.message_calls import WorkerAction
from roost.runtime.worker.setup import FALLBACK_ENV, write_secret_files
from roost.store.records import LogRecord
from roost.store.store_config import StoreConfig

UNSHARED_PROTOCOL = "roost-unshared"


class RayAction(WorkerAction):
    """An action running in Ray, as its code sees it; it also knows the name of its run's broker and
    keeps its traced calls for the reply."""

    __slots__ = ("broker", "traces")

    def __init__(self, wire: ActionContext, run: RunFacts, store: StoreConfig, broker: str):
        super().__init__(wire, run, store)
        self.broker = broker
        self.traces: list[TraceBegin | TraceEnd] = []


_BROKERS: dict[str, Any] = {}


def broker_named(name: str) -> Any:
    """A run's broker, looked up by name when an action first calls a task (a handle in every task's
    arguments would cost each Ray task a borrowed reference, calls or not)."""
    handle = _BROKERS.get(name)
    if handle is None:
        if len(_BROKERS) > 64:
            _BROKERS.clear()
        handle = _BROKERS[name] = ray.get_actor(name)
    return handle


class RayCalls(TaskCalls):
    """Task calls made by code running in Ray: sent to the run's broker, answered by the controller."""

    def __init__(self) -> None:
        self.pending: dict[str, Any] = {}  # call id -> the broker's ObjectRef for its reply
        self.changed = threading.Event()

    async def start(self, prepared: PreparedCall) -> Any:
        parent: RayAction = prepared.parent
        call_id = uuid.uuid4().hex
        reply_ref = broker_named(parent.broker).call.remote(call_message(prepared, call_id, parent.attempt))
        self.pending[call_id] = reply_ref
        self.changed.set()
        try:
            reply = await reply_ref
        finally:
            del self.pending[call_id]
            self.changed.set()
        if reply.error is not None:
            raise exception_from_wire(reply.error)
        return values.decode_outputs(prepared.task, reply.outputs)

    # -- @flyte.trace calls: run here; recorded by the controller from the action's reply, with its logs --
    records_traces = True

    def trace_begin_blocking(self, call: Any, replay: bool = True) -> bytes | None:
        call.parent.traces.append(tracing.begin_note(call))
        return tracing.replayed(call, replay)

    def trace_end(self, call: Any, outputs: bytes | None, error: BaseException | None) -> None:
        call.parent.traces.append(tracing.end_note(call, outputs, error))


# -- what every action needs, in a task or on a replica ---------------------------------------------
_RUNS: dict[str, RunFacts] = {}
_NODE: str | None = None


def node_description() -> str:
    """Where this process runs, as ``roost get run`` shows it."""
    global _NODE
    if _NODE is None:
        node_id = ray.get_runtime_context().get_node_id()
        _NODE = f"ray node {node_id[:12]} ({ray.util.get_node_ip_address()}), pid {os.getpid()}"
    return _NODE


def _run_facts(wire: list[Any]) -> RunFacts:
    facts = _RUNS.get(wire[0])  # the wire form starts with the run's name
    if facts is None:
        if len(_RUNS) > 64:  # a long-lived replica serves many runs
            _RUNS.clear()
        facts = _RUNS[wire[0]] = RunFacts.from_wire(wire)
    return facts


def _store_config(store: StoreLocation, driver_host: str) -> StoreConfig:
    """The run's blob store as seen from here. A file:// store on the driver's machine is not visible
    from another machine: there it becomes a URL whose first use says so (instead of files written
    to a folder on this node that the driver never sees)."""
    url = store.raw_data_url
    if url.startswith("file://") and driver_host and driver_host != socket.gethostname():
        _register_unshared(url, driver_host)
        url = f"{UNSHARED_PROTOCOL}://{url[len('file://') :]}"
    return StoreConfig(home=Path(store.home), raw_data_url=url)


def _register_unshared(url: str, driver_host: str) -> None:
    import fsspec

    message = (
        f"this action runs on the Ray node {socket.gethostname()}, but the run's blob store is {url} on the "
        f"driver's machine ({driver_host}), which this node cannot see. Give the run a store every node "
        "reaches: flyte.init(storage='s3://bucket/prefix') (see docs/ray.md)"
    )

    class UnsharedStore(fsspec.AbstractFileSystem):  # type: ignore[misc]
        protocol = UNSHARED_PROTOCOL

        def __init__(self, *args: Any, **kwargs: Any):
            raise RuntimeUserError("UnsharedBlobStore", message)

    fsspec.register_implementation(UNSHARED_PROTOCOL, UnsharedStore, clobber=True)


async def execute(payload: RayRun, calls: RayCalls) -> RayReply:
    """Run one action: its outputs (or its error, never wrapped by Ray), its output lines, its traced
    calls, its node."""
    lines: list[LogLine] = []
    traces: list[TraceBegin | TraceEnd] = []

    def emit(record: LogRecord) -> None:
        lines.append(LogLine(record.action_id, record.attempt, record.ts, record.stream, record.line))

    request = payload.request
    try:
        task = task_from_wire(request.task)
        wire = request.context
        assert payload.setup.store is not None
        store = _store_config(payload.setup.store, payload.driver_host)
        action = RayAction(wire, _run_facts(wire.run), store, payload.broker)
        action.replay = request.replay or {}
        action.traces = traces
        inputs = values.decode_inputs(task, request.inputs)
        install()  # Ray may have replaced sys.stdout since the last action
        sink = LogSink(emit, action.run_name, action.id, action.attempt)
        try:
            result = await run_code(calls, task, action, inputs, sink)
        finally:
            sink.close()
        outputs = values.encode_outputs(task, result).data
        return RayReply(outputs, None, lines, traces, node_description())
    except asyncio.CancelledError:
        raise
    except BaseException as e:
        return RayReply(None, error_to_wire(e), lines, traces, node_description())


def add_code_paths(paths: list[str]) -> None:
    """The driver's folders of user code, where they exist here (after this interpreter's own).

    This process is a roost worker from now on: a script without a ``__main__`` guard, imported here
    to find its tasks, must not start its run again (runner.py refuses it, as in worker processes).
    """
    os.environ[WORKER_ENV] = "1"
    for path in paths:
        if path not in sys.path and os.path.isdir(path):
            sys.path.append(path)


def apply_setup(setup: Setup) -> tuple[dict[str, str | None], str | None]:
    """Set the action's variables and secrets in this process: what they replaced, and the private
    0700 folder of its mounted secrets (``ROOST_SECRETS_DIR``), if any."""
    changes: dict[str, str | None] = {}
    secrets = setup.secrets
    folder = tempfile.mkdtemp(prefix="roost-secrets-") if any(s.mount for s in secrets) else None
    wanted: dict[str, str] = dict(setup.env)
    wanted.update((s.env, s.value) for s in secrets if s.env)
    if folder is not None:
        wanted[FALLBACK_ENV] = folder
    for name in [*setup.unset, *wanted]:
        if name not in changes:
            changes[name] = os.environ.get(name)
    for name in setup.unset:
        os.environ.pop(name, None)
    os.environ.update(wanted)
    if folder is not None:
        write_secret_files(Path(folder), secrets)
    masking.register(s.value for s in secrets)  # undone by ``applied``; a replica keeps them
    return changes, folder


@contextlib.contextmanager
def applied(setup: Setup) -> Iterator[None]:
    """The action's variables and secrets, for as long as it runs. Ray reuses a worker process for
    the next task, so what one action was given is taken away again, mounted secrets included."""
    changes, folder = apply_setup(setup)
    try:
        yield
    finally:
        for name, value in changes.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
        masking.unregister(s.value for s in setup.secrets)


# -- one action per Ray task ---------------------------------------------------------------------------
_LOOP: asyncio.AbstractEventLoop | None = None
_CALLS: RayCalls | None = None


def _task_calls() -> RayCalls:
    """The background loop the actions of this Ray worker run on, and their call handler."""
    global _LOOP, _CALLS
    if _CALLS is None:
        _LOOP = asyncio.new_event_loop()
        thread = threading.Thread(target=_LOOP.run_forever, name="roost-ray-actions", daemon=True)
        thread.start()
        calls = RayCalls()
        calls.loop, calls._loop_thread = _LOOP, thread.ident
        _CALLS = calls
    return _CALLS


def run_action(payload: RayRun) -> RayReply:
    """The body of every roost Ray task (see the module's docstring for why the main thread waits)."""
    add_code_paths(payload.setup.code_paths)
    calls = _task_calls()
    assert calls.loop is not None
    with applied(payload.setup):
        running = asyncio.run_coroutine_threadsafe(execute(payload, calls), calls.loop)
        running.add_done_callback(lambda _: calls.changed.set())
        try:
            _wait_lending_cpu(running, calls)
        except KeyboardInterrupt:  # ray.cancel(ref, force=False): cancel the action's code
            running.cancel()
            raise
        return running.result()


def _wait_lending_cpu(running: Any, calls: RayCalls) -> None:
    seen: set[Any] = set()
    while not running.done():
        calls.changed.clear()
        waiting = [ref for ref in list(calls.pending.values()) if ref not in seen]
        if waiting:
            # Blocked in ray.wait: Ray lends this task's CPU to others (its children) meanwhile.
            ready, _ = ray.wait(waiting, num_returns=len(waiting), timeout=1.0)
            seen.update(ready)
        else:
            calls.changed.wait(0.2)  # short: a non-forced ray.cancel interrupts between waits


# -- many actions on a replica of a reusable environment ----------------------------------------------
class Replica:
    """A warm replica of a reusable environment: a Ray actor whose module state survives between the
    actions it runs (``max_concurrency`` of them at once, on its event loop or, sync ones, threads)."""

    def __init__(self, setup: Setup):
        add_code_paths(setup.code_paths)
        _, self._secrets_folder = apply_setup(setup)  # for good: the process is the environment's
        self._calls = RayCalls()

    async def run(self, payload: RayRun) -> RayReply:
        if self._calls.loop is None:
            self._calls.bind_loop(asyncio.get_running_loop())
        return await execute(payload, self._calls)

    async def node(self) -> str:
        return node_description()

    async def shutdown(self) -> None:
        if self._secrets_folder is not None:
            shutil.rmtree(self._secrets_folder, ignore_errors=True)
        ray.actor.exit_actor()


# -- the broker of one run's calls -------------------------------------------------------------------
class CallBroker:
    """Calls made by the run's actions in Ray, waiting for the controller (an async actor).

    ``call`` parks until the controller replies; ``next_requests`` is the controller's long poll;
    ``reply`` delivers the controller's answers, several at a time.
    """

    def __init__(self) -> None:
        self._requests: list[CallRequest] = []
        self._arrived: asyncio.Event | None = None
        self._replies: dict[str, asyncio.Future[CallReply]] = {}

    def _event(self) -> asyncio.Event:
        if self._arrived is None:
            self._arrived = asyncio.Event()
        return self._arrived

    async def call(self, request: CallRequest) -> CallReply:
        reply: asyncio.Future[CallReply] = asyncio.get_running_loop().create_future()
        self._replies[request.call] = reply
        self._requests.append(request)
        self._event().set()
        try:
            return await reply
        finally:
            self._replies.pop(request.call, None)

    async def next_requests(self) -> list[CallRequest]:
        event = self._event()
        while not self._requests:
            event.clear()
            await event.wait()
        requests, self._requests = self._requests, []
        return requests

    async def reply(self, replies: list[CallReply]) -> None:
        for reply in replies:
            future = self._replies.get(reply.call)
            if future is not None and not future.done():
                future.set_result(reply)
