"""The server's commands as a user types them: ``roost server start --detach | status | stop``, and
``roost run --remote`` / ``roost -c CONFIG run`` sending a run to a server."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from roost.server import daemon

from .conftest import Server, start_server, stop_server

TASKS = """
import time

import roost as flyte

env = flyte.TaskEnvironment(name="cli_tasks")


@env.task
def add(a: int, b: int) -> int:
    return a + b


@env.task
def chatty(n: int) -> int:
    print(f"chatty says {n}")
    return n


@env.task
def broken(n: int) -> int:
    raise ValueError(f"broken on purpose with {n}")


@env.task
def slow(seconds: float) -> float:
    time.sleep(seconds)
    return seconds
"""


def roost(*args: str, home: Path | None = None, cwd: Path | None = None, timeout: float = 120):
    """``roost ARGS`` in a process of its own; ROOST_HOME is ``home``, else the test's own home."""
    env = {k: v for k, v in os.environ.items() if k not in ("ROOST_ENDPOINT", "ROOST_API_KEY")}
    if home is not None:
        env["ROOST_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "roost.cli.main", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def error_line(done: subprocess.CompletedProcess[str]) -> str:
    """The one line a failed command printed on stderr."""
    assert "Traceback" not in done.stdout + done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, done.stderr
    return errors[0]


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie no one has reaped yet does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def runs_on(url: str) -> list[str]:
    with urllib.request.urlopen(f"{url}/api/v1/runs?limit=1000", timeout=10) as response:
        return [run["name"] for run in json.loads(response.read())]


def run_named(stderr: str, url: str) -> str:
    """The run a `roost run --remote` said it started (``Run NAME: URL`` on stderr)."""
    found = re.search(rf"^Run (\S+): {re.escape(url)}/runs/(\S+)$", stderr, re.MULTILINE)
    assert found and found.group(1) == found.group(2), stderr
    return found.group(1)


# -- start --detach | status | stop ------------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_start_detached_status_and_stop(tmp_path: Path):
    home = tmp_path / "detached-home"
    started_at = time.monotonic()
    started = roost("server", "start", "--detach", "--port", "0", home=home)
    try:
        assert started.returncode == 0, started.stderr
        assert time.monotonic() - started_at < 30
        url = re.search(r"http://127\.0\.0\.1:\d+", started.stdout)
        assert url, started.stdout
        info = json.loads((home / "server" / "server.json").read_text())
        assert info["url"] == url.group(0) and alive(info["pid"])
        assert str(info["pid"]) in started.stdout

        status = roost("server", "status", home=home)
        assert status.returncode == 0 and "answering" in status.stdout and "NOT" not in status.stdout
        status = roost("server", "status", "--json", home=home)
        assert status.returncode == 0
        reported = json.loads(status.stdout)
        assert reported["running"] is True and reported["answering"] is True and reported["pid"] == info["pid"]

        again = roost("server", "start", "--detach", "--port", "0", home=home)
        assert again.returncode != 0
        line = error_line(again)
        assert "running" in line and "already" in line and str(info["pid"]) in line
        assert json.loads((home / "server" / "server.json").read_text()) == info  # the first one's, untouched

        stopped = roost("server", "stop", home=home)
        assert stopped.returncode == 0 and str(info["pid"]) in stopped.stdout
        deadline = time.monotonic() + 10
        while alive(info["pid"]):
            assert time.monotonic() < deadline, "the server process is still there"
            time.sleep(0.05)
        assert not (home / "server" / "server.json").exists()
        assert daemon.health(info["url"]) is None
    finally:
        daemon.stop(home)

    status = roost("server", "status", home=home)
    assert status.returncode == 1 and "no roost server is running" in status.stdout
    assert json.loads(roost("server", "status", "--json", home=home).stdout)["running"] is False
    again = roost("server", "stop", home=home)
    assert again.returncode == 1 and "no roost server is running" in error_line(again)
    assert "Traceback" not in (home / "server" / "server.log").read_text()


# -- roost run --remote ------------------------------------------------------------------------------------


@pytest.fixture
def tasks(project: Path) -> Path:
    (project / "tasks.py").write_text(TASKS)
    return project


@pytest.mark.timeout(120)
def test_run_remote_prints_the_output_and_names_the_run(server: Server, tasks: Path):
    done = roost("run", "--remote", "--endpoint", server.url, "tasks.py", "add", "--a", "1", "--b", "2", cwd=tasks)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "3"
    name = run_named(done.stderr, server.url)
    assert name in runs_on(server.url)
    # The CLI's own store has nothing of it: the run is the server's.
    assert not (Path(os.environ["ROOST_HOME"]) / "runs" / name).exists()


@pytest.mark.timeout(120)
def test_run_remote_follow_prints_what_the_task_prints(server: Server, tasks: Path):
    done = roost("run", "--remote", "--follow", "--endpoint", server.url, "tasks.py", "chatty", "--n", "7", cwd=tasks)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert "chatty says 7" in lines and lines[-1] == "7"
    run_named(done.stderr, server.url)


@pytest.mark.timeout(120)
def test_a_failing_remote_run_is_exit_1_and_one_line(server: Server, tasks: Path):
    done = roost("run", "--remote", "--endpoint", server.url, "tasks.py", "broken", "--n", "3", cwd=tasks)
    assert done.returncode == 1
    name = run_named(done.stderr, server.url)
    line = error_line(done)
    assert line.startswith(f"Error: run {name} failed: ") and "broken on purpose with 3" in line


def test_run_remote_without_a_server_is_a_usage_error(tasks: Path):
    done = roost("run", "--remote", "tasks.py", "add", "--a", "1", "--b", "2", cwd=tasks)
    assert done.returncode == 2
    assert "roost server start" in error_line(done) and "--endpoint" in error_line(done)


def test_local_and_remote_together_are_a_usage_error(tasks: Path):
    for args in (["--local", "--remote"], ["--local", "--endpoint", "http://127.0.0.1:9"]):
        done = roost("run", *args, "tasks.py", "add", "--a", "1", "--b", "2", cwd=tasks)
        assert done.returncode == 2
        assert "--local contradicts" in error_line(done)


@pytest.mark.timeout(120)
def test_a_config_naming_the_server_sends_the_run_there(server: Server, tasks: Path):
    config = tasks / "cfg.yaml"
    config.write_text(f"admin:\n  endpoint: {server.url}\ntask:\n  project: p\n")
    done = roost("-c", str(config), "run", "tasks.py", "add", "--a", "20", "--b", "22", cwd=tasks)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "42"
    name = run_named(done.stderr, server.url)
    assert name in runs_on(server.url)
    assert not (Path(os.environ["ROOST_HOME"]) / "runs" / name).exists()


@pytest.mark.timeout(120)
def test_a_key_refused_before_or_during_a_remote_run_is_one_line(tmp_path: Path, tasks: Path):
    home = tmp_path / "keyed-home"
    created = roost("server", "create-key", "ci", home=home)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    server = start_server(home)
    try:
        env = {k: v for k, v in os.environ.items() if k != "ROOST_ENDPOINT"}
        args = [sys.executable, "-m", "roost.cli.main", "run", "--remote", "--endpoint", server.url, "tasks.py"]
        wrong = subprocess.run(
            [*args, "add", "--a", "1", "--b", "2"],
            env={**env, "ROOST_API_KEY": key + "x"},
            cwd=tasks,
            capture_output=True,
            text=True,
            timeout=60,
        )
        # The first call is a HEAD (is the code bundle there?): a 401 without a body to give the reason.
        assert wrong.returncode == 1 and "HTTP 401" in error_line(wrong) and key not in wrong.stderr

        # The key revoked while the CLI follows the run: it stops following, in one line.
        following = subprocess.Popen(
            [*args, "slow", "--seconds", "5"],
            env={**env, "ROOST_API_KEY": key},
            cwd=tasks,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert following.stderr is not None
        started = following.stderr.readline()
        assert started.startswith("Run "), started
        assert roost("server", "revoke-key", "ci", home=home).returncode == 0
        _, rest = following.communicate(timeout=60)
        done = subprocess.CompletedProcess(following.args, following.returncode, "", started + rest)
        assert done.returncode == 1
        line = error_line(done)
        assert line.startswith("Error: cannot follow run ") and "not valid" in line and key not in done.stderr
    finally:
        stop_server(server)
