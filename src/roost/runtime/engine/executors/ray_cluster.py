"""The driver's connection to a Ray cluster: ``ray`` imported and ``ray.init`` called on first use,
the remote function of each task, and what the cluster has in total.

One connection per process (Ray allows one), made the first time an action needs it -- in a thread,
so that the runtime loop goes on running the other actions meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
import threading
import time
from types import ModuleType
from typing import Any

from roost.errors import InitializationError
from roost.runtime.engine.executors import ray_auth

logger = logging.getLogger("roost")

# How long the cluster's total resources are trusted before they are asked for again.
TOTALS_TTL = 2.0


def import_ray() -> ModuleType:
    """``ray``, or an error that says how to install it."""
    try:
        import ray
    except ImportError:
        ray = None
    # A folder named "ray" on sys.path imports as an empty namespace package: not Ray either.
    if ray is None or not hasattr(ray, "remote"):
        raise InitializationError(
            "RayNotInstalled",
            "user",
            "isolation 'ray' runs actions on a Ray cluster, and Ray is not installed here: pip install 'roost[ray]'",
        )
    return ray


class RayCluster:
    """The connected cluster, as the executors use it."""

    def __init__(self, ray: ModuleType, address: str):
        self.ray = ray
        self.address = address
        self.driver_host = socket.gethostname()
        self.code_paths = _code_paths()
        self._functions: dict[tuple[str, int], Any] = {}
        self._totals: dict[str, float] = {}
        self._totals_at = 0.0
        from roost.runtime.worker import ray_worker

        self.worker = ray_worker
        self.replica_class = ray.remote(ray_worker.Replica)
        self.broker_class = ray.remote(ray_worker.CallBroker)

    def function_for(self, task_name: str, depth: int) -> Any:
        """The remote function that runs actions of ``task_name`` at this depth of the run's tree.

        Ray caps how many workers it starts for one kind of task -- a remote function, its resources
        and its nesting depth -- so that nested tasks cannot exhaust a node. Every roost action is
        submitted by the driver (depth 1 to Ray), through one generic function: to Ray, a parent
        blocked on its children and the children would be one kind of task, and starting workers for
        the children would be throttled for seconds at a time. A function per task and depth gives
        Ray back the distinction it would see in a native nested program.
        """
        key = (task_name, depth)
        function = self._functions.get(key)
        if function is None:
            run_action = self.worker.run_action

            def run(payload: dict[str, Any]) -> dict[str, Any]:
                return run_action(payload)

            run.__name__ = run.__qualname__ = f"roost[{task_name}]@{depth}"
            function = self._functions[key] = self.ray.remote(run)
        return function

    def totals(self, refresh: bool = False) -> dict[str, float]:
        """``ray.cluster_resources()``, asked for at most every TOTALS_TTL seconds."""
        now = time.monotonic()
        if refresh or now - self._totals_at > TOTALS_TTL:
            self._totals = dict(self.ray.cluster_resources())
            self._totals_at = now
        return self._totals


def _code_paths() -> list[str]:
    """The folders the driver imports user code from (not this interpreter's own library folders):
    workers on this machine find the tasks' modules there, as process workers do."""
    own = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    paths = []
    for entry in sys.path:
        path = os.path.realpath(entry or os.getcwd())
        if os.path.isdir(path) and not any(path == p or path.startswith(p + os.sep) for p in own):
            paths.append(path)
    return paths


class _Without(logging.Filter):
    def __init__(self, text: str):
        super().__init__()
        self._text = text

    def filter(self, record: logging.LogRecord) -> bool:
        return self._text not in record.getMessage()


_CLUSTER: RayCluster | None = None
_LOCK = threading.Lock()
_CONNECTING: asyncio.Lock | None = None


def _connect(address: str) -> RayCluster:
    global _CLUSTER
    with _LOCK:
        if _CLUSTER is not None:
            if _CLUSTER.address != address:
                raise InitializationError(
                    "RayAlreadyConnected",
                    "user",
                    f"this process is connected to the Ray cluster at {_CLUSTER.address!r}; a process can "
                    f"use one Ray cluster, not also {address!r}",
                )
            return _CLUSTER
        ray = import_ray()
        if not ray.is_initialized():
            mode = ray_auth.configure(ray)
            ray_auth.check_cluster(address, mode)
            # Connecting from the runtime loop's thread, Ray warns that it cannot install its SIGTERM
            # handler there -- the controller's process keeps its own handling, which is intended.
            quiet = _Without("SIGTERM handler is not set")
            worker_logger = logging.getLogger("ray._private.worker")
            worker_logger.addFilter(quiet)
            try:
                # Output of actions is captured per action into the run store (roost get logs), as it is
                # for process workers; Ray's own forwarding of it would print it a second time.
                ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
            except Exception as e:
                raise InitializationError(
                    "RayConnectionFailed", "user", f"cannot connect to the Ray cluster at {address!r}: {e}"
                ) from None
            finally:
                worker_logger.removeFilter(quiet)
        _CLUSTER = RayCluster(ray, address)
        return _CLUSTER


async def connect(address: str) -> RayCluster:
    """The process's cluster connection, made on first use (ray.init blocks: it runs in a thread)."""
    global _CONNECTING
    if _CLUSTER is not None and _CLUSTER.address == address:
        return _CLUSTER
    if _CONNECTING is None:
        _CONNECTING = asyncio.Lock()
    async with _CONNECTING:
        return await asyncio.to_thread(_connect, address)


def connected() -> RayCluster | None:
    return _CLUSTER
