"""Local runs point at the console when a server runs for their ROOST_HOME: ``roost run`` prints the
run's page, ``Run.url`` is that page and an ``Action``'s ``url`` that page with the action selected
(without a server: the run's folder and the action's, as before)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from server.conftest import start_server, stop_server

from .conftest import roost_cli

pytestmark = pytest.mark.timeout(120)

PROGRAM = """
import sys

import roost as flyte

env = flyte.TaskEnvironment(name="urls")


@env.task
async def hello(x: int) -> int:
    return x + 1


if __name__ == "__main__":
    flyte.init()
    run = flyte.with_runcontext(name=sys.argv[1]).run(hello, 1)
    print("ACTION", run.action.url)
    print("URL", run.url)
"""


def test_local_runs_point_at_the_console_when_a_server_runs(tmp_path: Path) -> None:
    import os

    home, project = tmp_path / "home", tmp_path / "project"
    project.mkdir()
    (project / "flow.py").write_text(textwrap.dedent(PROGRAM))
    env = {**os.environ, "ROOST_HOME": str(home)}

    def program(name: str) -> str:
        done = subprocess.run([sys.executable, "flow.py", name], cwd=project, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        action_url = done.stdout.split("ACTION ", 1)[1].split("\n", 1)[0].strip()
        run_url = done.stdout.split("URL ", 1)[1].strip()
        if run_url.startswith("http"):
            assert action_url == f"{run_url}?action=a0"
        else:
            assert action_url == f"{run_url}/a0"
        return run_url

    alone = roost_cli(home, "run", "--no-live", "--name", "url-0", str(project / "flow.py"), "hello", "--x", "1")
    assert alone.returncode == 0 and "/runs/" not in alone.stderr, alone.stderr
    assert program("url-2") == str(home / "runs" / "url-2")  # no server: the run's folder

    server = start_server(home)
    try:
        done = roost_cli(home, "run", "--no-live", "--name", "url-1", str(project / "flow.py"), "hello", "--x", "1")
        assert done.returncode == 0, done.stderr
        assert f"Run url-1: {server.url}/runs/url-1" in done.stderr
        assert done.stdout.strip().endswith("2") and "http" not in done.stdout  # stdout: as before
        assert program("url-3") == f"{server.url}/runs/url-3"
    finally:
        stop_server(server)
