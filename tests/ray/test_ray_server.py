"""`roost server start --ray ADDRESS`: the server's runs execute their actions on the Ray cluster."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from server.conftest import start_server, stop_server

TASKS = """
import asyncio
import roost as flyte

env = flyte.TaskEnvironment(name="on_ray_server")


@env.task
async def square(x: int) -> int:
    return x * x


@env.task
async def total(n: int) -> int:
    return sum(await asyncio.gather(*[square(i) for i in range(n)]))
"""


@pytest.mark.timeout(240)
def test_a_remote_run_on_a_server_with_ray(ray_head: str, tmp_path: Path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "tasks.py").write_text(TASKS)
    server = start_server(tmp_path / "server-home", "--ray", ray_head)
    try:
        client = textwrap.dedent(
            f"""
            import roost as flyte
            from tasks import total
            flyte.init(endpoint="{server.url}")
            run = flyte.run(total, n=4).wait(quiet=True)
            print("OUT", run.outputs()[0])
            print("WHERE", sorted({{a._record.isolation for a in run.actions()}}))
            """
        )
        done = subprocess.run(
            [sys.executable, "-c", client],
            cwd=project,
            env={**os.environ, "ROOST_HOME": str(tmp_path / "client-home")},
            capture_output=True,
            text=True,
            timeout=200,
        )
    finally:
        stop_server(server)
    assert done.returncode == 0, done.stderr + server.output()
    assert "OUT 14" in done.stdout
    assert "WHERE ['ray']" in done.stdout
