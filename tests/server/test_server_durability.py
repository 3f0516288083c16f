"""kill -9 of the server while a run goes: the run finishes, nothing it completed runs again, and a
client waiting on it sees it end once the server is back."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import start_server, stop_server

TASKS = """
import asyncio
from pathlib import Path

import roost as flyte

env = flyte.TaskEnvironment(name="durable")
LEDGER = Path(LEDGER_PATH)


def note(what: str) -> None:
    with open(LEDGER, "a") as f:
        f.write(what + "\\n")


@env.task
async def step(i: int) -> int:
    note(f"step {i}")
    await asyncio.sleep(0.5)
    return i * i


@env.task
async def pipeline(n: int) -> int:
    total = 0
    for i in range(n):
        total += await step(i)
    return total
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pipeline_client(tmp_path: Path, url: str, start: str, n: int) -> tuple[Path, subprocess.Popen[str]]:
    """A project whose steps append to its ledger, and a client process running ``pipeline(n)`` on the
    server at ``url`` (``start`` is how it starts the run), waiting for its end through any restart."""
    project = tmp_path / "project"
    project.mkdir()
    # The ledger is a file of the project (not of the bundle the server unpacked): steps append to it.
    (project / "tasks.py").write_text(TASKS.replace("LEDGER_PATH", repr(str(project / "ledger.txt"))))
    source = f"""
import roost as flyte
from tasks import pipeline
flyte.init(endpoint="{url}")
run = {start}.run(pipeline, n={n})
run.wait(quiet=True)
print("PHASE", run.phase, run.outputs()[0], flush=True)
"""
    client = subprocess.Popen(
        [sys.executable, "-c", source],
        cwd=project,
        env={**os.environ, "ROOST_HOME": str(tmp_path / "client-home")},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return project, client


@pytest.mark.timeout(180)
def test_kill_9_of_the_server_mid_run(tmp_path: Path):
    port = free_port()
    home = tmp_path / "server-home"
    server = start_server(home, "--port", str(port))
    project, client = pipeline_client(tmp_path, server.url, "flyte", 8)
    ledger = project / "ledger.txt"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not ledger.exists() or len(ledger.read_text().splitlines()) < 2):
        time.sleep(0.05)
    os.kill(server.process.pid, signal.SIGKILL)
    server.process.wait()
    time.sleep(1.0)  # the client keeps waiting meanwhile
    restarted = start_server(home, "--port", str(port))
    try:
        out, err = client.communicate(timeout=120)
    finally:
        stop_server(restarted)
    assert client.returncode == 0, err
    assert f"PHASE succeeded {sum(i * i for i in range(8))}" in out
    # Every step ran exactly once: the kill interrupted nothing that had to run again.
    assert sorted(ledger.read_text().splitlines()) == sorted(f"step {i}" for i in range(8))


HYBRID = """
import asyncio, sys
import roost as flyte

env = flyte.TaskEnvironment(name="orphaned")


@env.task
async def slow() -> int:
    await asyncio.sleep(60)
    return 1


@env.task
async def parent() -> int:
    print("parent started", flush=True)
    return await slow()


if __name__ == "__main__":
    flyte.init(endpoint=sys.argv[1])
    flyte.with_runcontext(mode="hybrid", name="orphan", run_base_dir=sys.argv[2]).run(parent)
"""


@pytest.mark.timeout(120)
def test_a_hybrid_run_whose_client_dies_fails_instead_of_waiting_forever(tmp_path: Path, monkeypatch):
    import json
    import urllib.request

    monkeypatch.setenv("ROOST_HYBRID_CLIENT_GONE_S", "2")
    server = start_server(tmp_path / "server-home")
    try:
        project = tmp_path / "project"
        project.mkdir()
        (project / "prog.py").write_text(HYBRID)
        client = subprocess.Popen(
            [sys.executable, "prog.py", server.url, str(tmp_path / "base")],
            cwd=project,
            env={**os.environ, "ROOST_HOME": str(tmp_path / "client-home")},
            stdout=subprocess.PIPE,
            text=True,
        )
        assert "parent started" in client.stdout.readline()
        time.sleep(0.5)  # the child is on the server now
        client.kill()
        client.wait()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            run = json.loads(urllib.request.urlopen(f"{server.url}/api/v1/runs/orphan").read())
            if run["phase"] not in ("queued", "running"):
                break
            time.sleep(0.2)
        assert run["phase"] == "failed", run
        assert run["error"]["code"] == "ClientGone" and "stopped answering" in run["error"]["message"]
    finally:
        stop_server(server)


@pytest.mark.timeout(180)
def test_a_run_whose_bundle_host_died_too_is_resumed_by_the_restarted_server(tmp_path: Path):
    import json
    import urllib.request

    port = free_port()
    home = tmp_path / "server-home"
    server = start_server(home, "--port", str(port))
    start_run = 'flyte.with_runcontext(name="survivor", env_vars={"KEPT": "yes"})'
    project, client = pipeline_client(tmp_path, server.url, start_run, 6)
    ledger = project / "ledger.txt"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not ledger.exists() or len(ledger.read_text().splitlines()) < 3):
        time.sleep(0.05)
    run = json.loads(urllib.request.urlopen(f"{server.url}/api/v1/runs/survivor").read())
    finished = {
        a["action_id"]
        for a in json.loads(urllib.request.urlopen(f"{server.url}/api/v1/runs/survivor/actions").read())
        if a["phase"] == "succeeded"
    }
    # The server and the host driving the run die together (a reboot, an OOM kill of both).
    os.kill(server.process.pid, signal.SIGKILL)
    os.kill(run["pid"], signal.SIGKILL)
    server.process.wait()
    assert (home / "server" / "submissions" / "survivor").exists()
    restarted = start_server(home, "--port", str(port))
    try:
        out, err = client.communicate(timeout=120)
        actions = json.loads(urllib.request.urlopen(f"{restarted.url}/api/v1/runs/survivor/actions").read())
    finally:
        stop_server(restarted)
    assert client.returncode == 0, err + restarted.output()
    assert f"PHASE succeeded {sum(i * i for i in range(6))}" in out
    steps = ledger.read_text().splitlines()
    assert sorted(set(steps)) == sorted(f"step {i}" for i in range(6))
    # What had finished before the kill was reused (recovered), not run again: at most the step
    # running at the kill ran twice.
    assert len(steps) <= 7
    phases = {a["action_id"]: a["phase"] for a in actions}
    assert finished and all(phases[a] == "recovered" for a in finished - {"a0"})
    assert not (home / "server" / "submissions" / "survivor").exists()  # forgotten once it ended
