"""A real roost server process on 127.0.0.1 (any free port) over a store of its own, and a way to run
client programs against it in other processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class Server:
    home: Path
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def start_server(home: Path, *args: str, timeout: float = 30.0) -> Server:
    log = home / "server-test.log"
    home.mkdir(parents=True, exist_ok=True)
    out = open(log, "ab")  # noqa: SIM115 -- kept open for the server's life
    process = subprocess.Popen(
        [sys.executable, "-m", "roost.cli.main", "server", "start", "--port", "0", *args],
        env={**os.environ, "ROOST_HOME": str(home)},
        stdout=out,
        stderr=out,
        stdin=subprocess.DEVNULL,
    )
    info = home / "server" / "server.json"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited: {log.read_text()}")
        try:
            data = json.loads(info.read_text())
            if data["pid"] == process.pid:
                urllib.request.urlopen(data["url"] + "/health", timeout=1).read()
                return Server(home, data["url"], process, log)
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"the server did not start: {log.read_text()}")


def stop_server(server: Server) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(20)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    running = start_server(tmp_path_factory.mktemp("server-home"))
    yield running
    stop_server(running)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    return folder


def run_client(
    project: Path, source: str, *args: str, home: Path | None = None, timeout: float = 120, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Write ``source`` as project/client.py and run it in a process of its own (its own ROOST_HOME:
    whatever it sees of the server's runs comes through the API)."""
    script = project / "client.py"
    script.write_text(textwrap.dedent(source))
    env = {**os.environ, "ROOST_HOME": str(home or project.parent / "client-home")}
    done = subprocess.run(
        [sys.executable, str(script), *args], cwd=project, env=env, capture_output=True, text=True, timeout=timeout
    )
    if check and done.returncode != 0:
        raise AssertionError(f"client failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done
