"""The Python environments Flyte actions and apps run under: the Flyte runtime at the client's version.

A server started with ``--flyte-python`` uses that interpreter for everything. Otherwise it builds one
virtualenv per Flyte version the clients send (a task template says which SDK made it: its
``runtime.version``), the way roost builds image virtualenvs -- with uv, into
``ROOST_HOME/flyte/runtimes/flyte-<version>`` -- on first use, the build's output going to the log of the
action (or app) that waits for it. A virtualenv is complete once its marker file is written; one left
half-built is built again.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from roost.server.flyte_api.action_launch import LaunchError

_VERSION = re.compile(r"^[0-9]+(\.[0-9]+){0,3}([a-z0-9.+-]{0,40})$")
COMPLETE = ".roost-complete"


class FlyteRuntimes:
    def __init__(self, home: Path, configured: str | None):
        self.root = home / "flyte" / "runtimes"
        self.configured = configured
        self._locks: dict[str, asyncio.Lock] = {}

    def ready(self, version: str) -> str | None:
        """The interpreter for ``version`` when there is one already."""
        if self.configured:
            return self.configured
        folder = self.root / f"flyte-{version}"
        return str(folder / "bin" / "python") if (folder / COMPLETE).exists() else None

    async def python_for(self, version: str, on_line: Callable[[str], None]) -> str:
        """The interpreter of the Flyte runtime at ``version``, built first if need be."""
        found = self.ready(version)
        if found is not None:
            return found
        if not version or not _VERSION.match(version):
            raise LaunchError(
                f"the client sent no usable Flyte version ({version[:40]!r}): start the server with --flyte-python"
            )
        async with self._locks.setdefault(version, asyncio.Lock()):
            found = self.ready(version)
            if found is not None:
                return found
            return await self._build(version, on_line)

    async def _build(self, version: str, on_line: Callable[[str], None]) -> str:
        from roost.images.installs import find_uv

        folder = self.root / f"flyte-{version}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.parent.mkdir(parents=True, exist_ok=True)
        python = folder / "bin" / "python"
        on_line(f"[roost] building the Flyte runtime flyte=={version} (first use on this server) ...")
        uv = find_uv()
        for step in (
            [uv, "venv", "-q", "--python", sys.executable, str(folder)],
            [uv, "pip", "install", "--python", str(python), f"flyte=={version}"],
        ):
            process = await asyncio.create_subprocess_exec(
                *step, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
            )
            assert process.stdout is not None
            async for raw in process.stdout:
                on_line(f"[roost] {raw.decode('utf-8', 'replace').rstrip()}")
            if await process.wait() != 0:
                shutil.rmtree(folder, ignore_errors=True)
                raise LaunchError(f"could not build the Flyte runtime flyte=={version}: see the action's log")
        (folder / COMPLETE).write_text(version)
        on_line(f"[roost] the Flyte runtime flyte=={version} is ready")
        return str(python)
