"""Process: each attempt runs in a worker process of its own, forked from a template.

The worker gets exactly the environment the task declares (env vars of the environment, task and
run; its secrets; CPU and GPU limits); a memory limit is watched from here and enforced by killing
the worker; a runtime bound on any code (sync included) kills it too. A worker that dies fails only
its action, with an error that says how it died, and retries apply.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterator
from typing import Any

from roost.errors import MaxRuntimeExceededError, OOMError, WorkerCrashedError
from roost.runtime import values
from roost.runtime.actions import ActionRun
from roost.runtime.wire import context_to_wire, error_to_wire, exception_from_wire, task_from_wire, task_to_wire
from roost.runtime.workers.launcher import WorkerProcess, describe_exit, template_for
from roost.spec.quantities import format_bytes
from roost.store.records import LogRecord

# How often the memory watchdog samples a worker's resident memory.
WATCH_INTERVAL = 0.05


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes(pid: int) -> int | None:
    """Resident memory of a process (Linux /proc), or None once it is gone."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return None


class ProcessExecutor:
    name = "process"

    async def run(self, action: ActionRun) -> values.EncodedOutputs:
        spec = action.spec
        controller = action.controller
        ref = task_to_wire(action.task)
        secrets = controller.secrets_for(action)  # a missing secret fails the action before it starts
        worker = await template_for().fork(preload=[ref["module"]] if "module" in ref else [])
        action.record.node = f"pid {worker.pid}"
        controller.store.mark(action.record)
        try:
            worker.send(
                {
                    "op": "setup",
                    "env": controller.env_for(spec),
                    "secrets": secrets,
                    "limits": action.limits or {},
                    "store": {
                        "home": str(controller.store_config.home),
                        "raw_data_url": controller.store_config.raw_data_url,
                    },
                }
            )
            worker.send(
                {
                    "op": "run",
                    "id": action.id,
                    "task": ref,
                    "inputs": action.record.inputs,
                    "context": context_to_wire(action.task_context()),
                }
            )
            with self._memory_watch(action, worker):
                limit = spec.max_runtime
                try:
                    return await asyncio.wait_for(self._converse(action, worker), limit)
                except asyncio.TimeoutError:
                    worker.kill("timeout")
                    raise MaxRuntimeExceededError(
                        f"{spec.name} exceeded its max_runtime of {limit:g} s (attempt {action.attempt + 1}); "
                        f"its worker process (pid {worker.pid}) was killed"
                    ) from None
        except BaseException:
            worker.kill("abandoned")
            raise
        finally:
            worker.close()
            worker.template.forget(worker.pid)
            controller.release_secrets(action)

    async def _converse(self, action: ActionRun, worker: WorkerProcess) -> values.EncodedOutputs:
        """Serve the worker until it reports the action's end: its logs, its nested calls, its result."""
        controller = action.controller
        children: set[asyncio.Task[None]] = set()
        try:
            while True:
                message = await worker.receive()
                if message is None:
                    raise await self._death(action, worker)
                op = message["op"]
                if op == "log":
                    controller.store.log(
                        LogRecord(
                            controller.run_name,
                            message["id"],
                            message["attempt"],
                            message["ts"],
                            message["stream"],
                            message["line"],
                        )
                    )
                elif op == "call":
                    child = asyncio.ensure_future(self._serve_call(action, worker, message))
                    children.add(child)
                    child.add_done_callback(children.discard)
                elif op == "done":
                    worker.send({"op": "shutdown"})
                    return values.EncodedOutputs(message["outputs"])
                elif op == "failed":
                    worker.send({"op": "shutdown"})
                    raise exception_from_wire(message["error"])
        finally:
            for child in children:
                child.cancel()

    async def _serve_call(self, action: ActionRun, worker: WorkerProcess, message: dict[str, Any]) -> None:
        """A task called by the worker's code: a child action of this one, run by the controller."""
        controller = action.controller
        try:
            task = task_from_wire(message["task"])
            encoded = values.EncodedInputs(message["inputs"], message["hash"])
            child = controller.new_action(
                task, message["action_id"], {}, encoded, action, message["group"], dict(message["custom"])
            )
            await controller.execute(child)
            worker.send({"op": "call_result", "call": message["call"], "outputs": child.record.outputs})
        except asyncio.CancelledError:
            raise
        except BaseException as e:
            worker.send({"op": "call_error", "call": message["call"], "error": error_to_wire(e)})

    async def _death(self, action: ActionRun, worker: WorkerProcess) -> BaseException:
        """The error for a worker that went away before reporting a result."""
        status = await worker.exit_status()
        limit = action.spec.resources.memory_limit
        if worker.killed_for == "memory" and limit is not None:
            return OOMError(
                "OOMKilled",
                f"{action.spec.name} used more than its memory limit of {format_bytes(limit)} "
                f"({limit} bytes); its worker process (pid {worker.pid}) was killed",
            )
        return WorkerCrashedError(
            f"the worker process running {action.spec.name} (pid {worker.pid}) {describe_exit(status)} "
            f"before returning a result (attempt {action.attempt + 1})"
        )

    @contextlib.contextmanager
    def _memory_watch(self, action: ActionRun, worker: WorkerProcess) -> Iterator[None]:
        """Kill the worker when its resident memory passes the task's memory limit."""
        limit = action.spec.resources.memory_limit
        if limit is None:
            yield
            return

        async def watch() -> None:
            while True:
                rss = rss_bytes(worker.pid)
                if rss is None:
                    return
                if rss > limit:
                    worker.kill("memory")
                    return
                await asyncio.sleep(WATCH_INTERVAL)

        watcher = asyncio.ensure_future(watch())
        try:
            yield
        finally:
            watcher.cancel()
