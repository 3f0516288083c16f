"""An app's replica on a Ray cluster: the app's process on a Ray node, driven from the server's machine.

A server started with ``--ray`` serves each replica as it serves any (a run of its own, in a worker
process set up with the app's variables and secrets), but that worker does not serve the app itself:
it connects to the cluster and creates an ``AppProcess`` actor, which starts the app's process on its
node -- ``run_app``, the same runtime a local replica runs, with the worker's variables and secrets --
on a free port of that node, and answers with the node's address once the port accepts connections.
The worker writes that address where the server reads it (``ADDRESS_FILE_ENV``), so the server's proxy
sends the app's requests straight to the node; it then relays the app's output into the replica's
log as it comes (``output``), and stops the app when the replica is stopped: SIGTERM to the app's
process through the actor (``stop``: ``on_shutdown`` runs), SIGKILL after a grace.

The actor lives as long as the worker that created it (Ray ends an actor whose owner died); the app's
process ends with the actor (PR_SET_PDEATHSIG on Linux).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any

from roost.runtime.worker.parent_death import die_with_parent

# Set by the bundle host on a replica's worker when the server has a Ray cluster: its address.
RAY_ADDRESS_ENV = "ROOST_APP_RAY_ADDRESS"
# Set with it: the actor's Ray options (the app's resources, its image's packages) as JSON.
RAY_OPTIONS_ENV = "ROOST_APP_RAY_OPTIONS"
# Set by the server on each replica: the file the worker writes "host port node" into once the app
# answers on the node (the server reads it to reach the replica).
ADDRESS_FILE_ENV = "ROOST_APP_ADDRESS_FILE"
STOP_GRACE_S = 10.0
OUTPUT_POLL_S = 0.3
KEPT_LINES = 10_000  # the output an actor holds for the worker to fetch, at most
# Variables of the worker that are not the app's: the node has its own Ray settings, and these two
# say where the worker (not the app) stands.
_NOT_FORWARDED = (RAY_ADDRESS_ENV, RAY_OPTIONS_ENV, ADDRESS_FILE_ENV, "PWD", "OLDPWD")


def _free_port() -> int:
    """A port free on every address of this node (the app may listen on any of them)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("", 0))
        return int(probe.getsockname()[1])


def _node_address(ray: Any, node: str) -> str:
    """The address this node joined the cluster with (``ray start --node-ip-address``): the one the
    other nodes, and the server, reach it at."""
    with contextlib.suppress(Exception):
        for each in ray.nodes():
            if each.get("NodeID") == node and each.get("NodeManagerAddress"):
                return str(each["NodeManagerAddress"])
    return str(ray.util.get_node_ip_address())


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


class AppProcess:
    """A Ray actor: one app process on this node, its output kept for the worker to fetch."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._lines: collections.deque[str] = collections.deque(maxlen=KEPT_LINES)
        self._taken = 0  # lines dropped from the front of ``_lines`` (kept at most KEPT_LINES)
        self._lock = threading.Lock()  # the reading thread appends while ``output`` reads
        self._relay: threading.Thread | None = None

    async def start(
        self, location: str, app_name: str, parameters: str, env: dict[str, str], cwd: str, timeout: float
    ) -> dict[str, Any]:
        """Start the app on a free port of this node; its address once the port accepts connections."""
        import ray

        node = ray.get_runtime_context().get_node_id()
        host = _node_address(ray, node)
        port = _free_port()
        environment = {**os.environ, **env}  # the node's own settings, then the app's
        code = "import asyncio, sys; from roost.runtime.worker.app_code import run_app; "
        code += "asyncio.run(run_app(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), 'remote'))"
        self._process = subprocess.Popen(
            [sys.executable, "-c", code, location, app_name, parameters, str(port)],
            cwd=cwd if os.path.isdir(cwd) else None,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        self._relay = threading.Thread(target=self._read, daemon=True)
        self._relay.start()
        deadline = time.monotonic() + timeout
        while not _accepts(host, port):
            if host != "127.0.0.1" and _accepts("127.0.0.1", port) and not _accepts(host, port):
                raise RuntimeError(
                    f"it listens on 127.0.0.1:{port} only; on Ray an app listens on all addresses (0.0.0.0), "
                    f"where the server reaches it ({host})"
                )
            if self._process.poll() is not None:
                raise RuntimeError(f"it exited with status {self._process.returncode}: {self._last_lines()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"it did not listen on {host}:{port} within {timeout:g} s: {self._last_lines()}")
            await asyncio.sleep(0.05)
        return {"host": host, "port": port, "node": node, "pid": self._process.pid}

    def _read(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        for line in iter(self._process.stdout.readline, b""):
            with self._lock:
                if len(self._lines) == self._lines.maxlen:
                    self._taken += 1
                self._lines.append(line.decode(errors="replace").rstrip("\n"))

    def _last_lines(self) -> str:
        with self._lock:
            last = list(self._lines)[-3:]
        return " | ".join(last)[-400:] or "no output"

    async def output(self, since: int) -> tuple[int, list[str]]:
        """The lines printed from line ``since`` on, and the number to ask from next."""
        with self._lock:
            lines, taken = list(self._lines), self._taken
        return taken + len(lines), lines[max(since - taken, 0) :]

    async def wait(self) -> int:
        """The app's exit status, once it ended (its output read to the end)."""
        assert self._process is not None
        code = await asyncio.to_thread(self._process.wait)
        if self._relay is not None:
            await asyncio.to_thread(self._relay.join, 2.0)
        return code

    async def stop(self, grace: float) -> int | None:
        """SIGTERM to the app (its server stops, ``on_shutdown`` runs), SIGKILL after ``grace``."""
        process = self._process
        if process is None or process.poll() is not None:
            return None if process is None else process.returncode
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.wait(), grace)
        except asyncio.TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            return await self.wait()


def _forwarded_env() -> dict[str, str]:
    """The worker's variables -- the app's own, the serve context's, its secrets -- less the Ray
    settings of this machine (the node has its own)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("RAY_") and k not in _NOT_FORWARDED}


async def serve_on_ray(location: str, app_name: str, parameters: str, ray_address: str, timeout: float) -> None:
    """Serve the app on the cluster until it ends by itself, or this is cancelled (the replica is
    stopped): then the app is stopped gracefully, its last output relayed."""
    from roost.runtime.engine.executors.ray_cluster import connect

    cluster = await connect(ray_address)
    ray = cluster.ray
    actor_class = ray.remote(AppProcess)
    # The app's requests (CPUs, memory, GPUs, its image's packages as a runtime_env); none asked: no
    # CPU, so that an app is not kept from a node whose CPUs run tasks. max_concurrency: the output is
    # fetched while ``wait`` waits; no restart: a replica that dies is the server's to replace.
    asked = json.loads(os.environ.get(RAY_OPTIONS_ENV) or "{}")
    options = {"num_cpus": 0, **asked, "max_restarts": 0, "max_concurrency": 4}
    actor = actor_class.options(**options).remote()
    relayed = 0

    async def relay() -> None:
        nonlocal relayed
        relayed, lines = await reply_of(actor.output.remote(relayed))
        for line in lines:
            print(line, flush=True)

    try:
        cwd = os.getcwd()
        start = actor.start.remote(location, app_name, parameters, _forwarded_env(), cwd, timeout)
        try:
            where = await asyncio.shield(reply_of(start))
        except Exception as e:
            with contextlib.suppress(Exception):
                await relay()
            why = f"app {app_name} did not start on Ray: {_cause(e)}"
            print(why, flush=True)  # the replica's last line: the server's 503 says it
            raise RuntimeError(why) from None
        print(
            f"app {app_name} serves on Ray node {where['node'][:12]} at {where['host']}:{where['port']} "
            f"(pid {where['pid']})",
            flush=True,
        )
        _write_address(where)
        ended = reply_of(actor.wait.remote())
        try:
            while not ended.done():
                await relay()
                await asyncio.wait({ended}, timeout=OUTPUT_POLL_S)
        except asyncio.CancelledError:  # the replica is stopped: the app stops as it should
            with contextlib.suppress(Exception):
                await asyncio.shield(reply_of(actor.stop.remote(STOP_GRACE_S)))
                await asyncio.shield(relay())
            raise
        await relay()
        code = ended.result()
        if code != 0:
            raise RuntimeError(f"app {app_name} exited with status {code} on Ray node {where['node'][:12]}")
    finally:
        with contextlib.suppress(Exception):
            ray.kill(actor)


def reply_of(ref: Any) -> asyncio.Future[Any]:
    """An actor call's reply as a future of the running loop; one abandoned (the replica stopped
    meanwhile) ends later with Ray's error, marked as seen rather than logged."""
    future = asyncio.wrap_future(ref.future())
    future.add_done_callback(lambda f: f.cancelled() or f.exception())
    return future


def _write_address(where: dict[str, Any]) -> None:
    path = os.environ.get(ADDRESS_FILE_ENV)
    if not path:
        return
    with contextlib.suppress(OSError):
        with open(path + ".part", "w") as f:
            f.write(f"{where['host']} {where['port']} ray node {where['node'][:12]} ({where['host']})\n")
        os.replace(path + ".part", path)  # whole, or not there: the server never reads half of it


def _cause(error: BaseException) -> str:
    """Ray wraps an actor's exception in its own: the app's reason, in one line."""
    cause = getattr(error, "cause", None) or error
    return f"{cause}".strip().splitlines()[-1][:400] if f"{cause}".strip() else type(cause).__name__
