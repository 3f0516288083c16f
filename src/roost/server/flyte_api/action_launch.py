"""One attempt of a Flyte action as a process: the task template's container args with its placeholders
filled in, the environment the Flyte runtime reads, and the template's limits enforced.

The platform runs an action as a container whose args start with the runtime's entry point (``a0 ...``).
Here the same args run under the Flyte runtime's own virtualenv (the ``flyte_python`` the server was
given: ``a0`` is the script beside that interpreter), in a fresh working folder (the code bundle is
unpacked into it), in a process session of its own so an abort stops everything it started. What the
template declares is honoured as for roost's own tasks: its env vars, its secrets (read from roost's
secret store, given as the variables the template names), a memory limit (a cgroup where this machine
allows one, else an RSS watchdog that kills the attempt past the limit) and a CPU quota (cgroups).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roost.runtime.host.cgroups import WorkerCgroup
from roost.runtime.host.connection import rss_bytes
from roost.spec.quantities import parse_quantity

# How often the RSS watchdog looks at an attempt without a cgroup, and how long a stopped attempt has
# between SIGTERM and SIGKILL.
WATCH_INTERVAL_S = 0.2
STOP_GRACE_S = 5.0
_PLACEHOLDER = re.compile(r"\{\{\s*\.(\w+)\s*\}\}")


class LaunchError(Exception):
    """The attempt could not start: one line saying why."""


@dataclass(frozen=True)
class AttemptPlan:
    """Everything one attempt needs, resolved before it starts."""

    args: list[str]
    env: dict[str, str]
    memory: int | None = None  # bytes
    millicores: int | None = None
    timeout_s: float | None = None
    label: str = ""


@dataclass
class AttemptEnd:
    """How an attempt's process ended."""

    status: int | None
    killed_for: str | None = None  # "memory", "timeout", "abort"
    enforced: dict[str, str] = field(default_factory=dict)


def fill(args: list[str], values: dict[str, str]) -> list[str]:
    """The args with ``{{.name}}`` placeholders replaced; an unknown one is left for the runtime, which
    reads the environment for run and action names it finds unfilled."""

    def one(match: re.Match[str]) -> str:
        return values.get(match[1], match[0])

    return [_PLACEHOLDER.sub(one, a) for a in args]


def memory_bytes(text: str | None) -> int | None:
    return int(parse_quantity(text, "memory")) if text else None


def millicores(text: str | None) -> int | None:
    return int(parse_quantity(text, "cpu") * 1000) if text else None


def entry_point(flyte_python: str, args: list[str]) -> list[str]:
    """The command for the container args: their first word is a script of the Flyte runtime's
    virtualenv (``a0``), run from beside ``flyte_python``."""
    if not args:
        raise LaunchError("the task template has no container args to run")
    script = Path(flyte_python).parent / args[0]
    if not script.exists():
        raise LaunchError(
            f"{args[0]!r} is not a script of the Flyte runtime at {flyte_python} (is flyte installed there?)"
        )
    return [str(script), *args[1:]]


def runtime_env(flyte_python: str) -> dict[str, str]:
    """The Flyte runtime's virtualenv as an image would have it: first on PATH, so that a command the
    template names (``python``, a script the task installed) is the runtime's."""
    bin_dir = str(Path(flyte_python).parent)
    return {
        "PATH": os.pathsep.join([bin_dir, os.environ.get("PATH", os.defpath)]),
        "VIRTUAL_ENV": str(Path(bin_dir).parent),
    }


def runtime_variables(flyte_python: str, endpoint: str, org: str, project: str, domain: str) -> dict[str, str]:
    """What the Flyte runtime reads of where it runs: its org, project and domain, and this server as
    its control plane (no TLS, no credentials: loopback)."""
    return {
        **runtime_env(flyte_python),
        "_U_ORG_NAME": org,
        "FLYTE_INTERNAL_EXECUTION_PROJECT": project,
        "FLYTE_INTERNAL_EXECUTION_DOMAIN": domain,
        "_U_EP_OVERRIDE": f"dns:///{endpoint}",
        "_U_INSECURE": "true",
        # Children through the ActionsService: the one whose enqueue carries a condition whole.
        "_U_USE_ACTIONS": "1",
        "PYTHONUNBUFFERED": "1",
        # The runtime writes outputs, errors and its children's inputs with fsspec: on file:// the
        # folders must be made as a bucket would have them.
        "FSSPEC_FILE_AUTO_MKDIR": "true",
    }


def container_limits(container: Any) -> tuple[int | None, int | None]:
    """The memory (bytes) and CPU (millicores) a container may use: its limits, else its requests (a
    single value is a request, and the limit the platform sets equal to it)."""
    from flyteidl2.core import tasks_pb2

    limits = {e.name: e.value for e in container.resources.requests}
    limits.update({e.name: e.value for e in container.resources.limits})
    return memory_bytes(limits.get(tasks_pb2.Resources.MEMORY)), millicores(limits.get(tasks_pb2.Resources.CPU))


class AttemptProcess:
    """One attempt's process: its output lines go to ``on_line`` as they come."""

    def __init__(self, plan: AttemptPlan, on_line: Callable[[str, str], None]):
        self.plan = plan
        self.on_line = on_line
        self.proc: asyncio.subprocess.Process | None = None
        self.workdir: str | None = None
        self._killed_for: str | None = None
        self._cgroup: WorkerCgroup | None = None

    async def run(self) -> AttemptEnd:
        plan = self.plan
        self.workdir = tempfile.mkdtemp(prefix="roost-flyte-")
        env = {**os.environ, **plan.env}
        try:
            self.proc = await asyncio.create_subprocess_exec(
                *plan.args,
                cwd=self.workdir,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as e:
            shutil.rmtree(self.workdir, ignore_errors=True)
            raise LaunchError(f"could not start {plan.args[0]}: {e.strerror or e}") from e
        proc = self.proc
        if plan.memory is not None or plan.millicores is not None:
            self._cgroup = WorkerCgroup.create(f"flyte-{proc.pid}", proc.pid, plan.memory, plan.millicores)
        readers = [
            asyncio.ensure_future(self._pump(proc.stdout, "stdout")),
            asyncio.ensure_future(self._pump(proc.stderr, "stderr")),
        ]
        watchdog = None
        if plan.memory is not None and (self._cgroup is None or "memory" not in self._cgroup.enforced):
            watchdog = asyncio.ensure_future(self._watch_memory(plan.memory))
        try:
            if plan.timeout_s is not None:
                try:
                    await asyncio.wait_for(proc.wait(), plan.timeout_s)
                except asyncio.TimeoutError:
                    self._killed_for = "timeout"
                    await self.stop()
            else:
                await proc.wait()
            await asyncio.gather(*readers, return_exceptions=True)
        finally:
            if watchdog is not None:
                watchdog.cancel()
            for r in readers:
                r.cancel()
        killed_for = self._killed_for
        enforced: dict[str, str] = {}
        if self._cgroup is not None:
            enforced = dict(self._cgroup.enforced)
            if killed_for is None and self._cgroup.oom_killed():
                killed_for = "memory"
            self._cgroup.remove()
        shutil.rmtree(self.workdir, ignore_errors=True)
        return AttemptEnd(proc.returncode, killed_for, enforced)

    async def _pump(self, stream: asyncio.StreamReader | None, name: str) -> None:
        if stream is None:
            return
        while True:
            line = await stream.readline()
            if not line:
                return
            self.on_line(name, line.decode("utf-8", "replace").rstrip("\n"))

    async def _watch_memory(self, limit: int) -> None:
        assert self.proc is not None
        while self.proc.returncode is None:
            rss = rss_bytes(self.proc.pid)
            if rss is not None and rss > limit:
                self._killed_for = "memory"
                self._signal(signal.SIGKILL)
                return
            await asyncio.sleep(WATCH_INTERVAL_S)

    def _signal(self, sig: int) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)

    async def stop(self, reason: str | None = None) -> None:
        """SIGTERM to the attempt's session, SIGKILL after a grace period."""
        if reason is not None and self._killed_for is None:
            self._killed_for = reason
        if self.proc is None or self.proc.returncode is not None:
            return
        self._signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        while self.proc.returncode is None and time.monotonic() < deadline:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.proc.wait(), 0.1)
        self._signal(signal.SIGKILL)
