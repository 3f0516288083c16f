"""A real local Ray head for the Ray tests: started once per session on 127.0.0.1 with 2 CPUs, stopped
at the end whatever happened. No mocks: roost talks to this cluster exactly as to any other.

The head runs as `ray start --head --block` in a session of its own, so that stopping it stops this
cluster's processes only (`ray stop` would stop every Ray cluster of the machine).

Authentication is hermetic: the head and every client of the session (this process, the CLI
subprocesses, which inherit its environment) use token authentication with a token of the
session's own, in a file named by RAY_AUTH_TOKEN_PATH -- whatever the machine's ~/.ray holds
(Ray's `ray start --head` would otherwise turn token mode on by itself when ~/.ray/auth_token
exists, with that token).
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from roost.runtime.engine.executors import ray_cluster
from roost.runtime.runs import settings
from roost.runtime.runs.initialize import init

try:
    import ray
except ImportError:
    ray = None
# tests/ is on sys.path and holds this folder, named "ray": without Ray installed, `import ray`
# finds it as an empty namespace package.
RAY_MISSING = None if ray is not None and hasattr(ray, "remote") else "Ray is not installed (pip install 'roost[ray]')"

CPUS = 2
HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ray_cli() -> str:
    return str(Path(sys.executable).parent / "ray")


AUTH_VARIABLES = ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")


@pytest.fixture(scope="session")
def ray_token(ray_head_dir: Path) -> Iterator[str]:
    """The session cluster's token, in force in this process's environment for the session."""
    token = secrets.token_hex(16)
    path = ray_head_dir / "auth_token"
    path.write_text(token)
    path.chmod(0o600)
    saved = {name: os.environ.pop(name, None) for name in AUTH_VARIABLES}
    os.environ["RAY_AUTH_MODE"] = "token"
    os.environ["RAY_AUTH_TOKEN_PATH"] = str(path)
    try:
        yield token
    finally:
        for name, value in saved.items():
            os.environ.pop(name, None)
            if value is not None:
                os.environ[name] = value


@pytest.fixture(scope="session")
def ray_head(ray_head_dir: Path, ray_token: str) -> Iterator[str]:
    """The address of a local Ray head with ``CPUS`` CPUs, with token authentication (``ray_token``)."""
    if RAY_MISSING:
        pytest.skip(RAY_MISSING)
    port = free_port()
    temp = str(ray_head_dir)
    address = f"127.0.0.1:{port}"
    log = open(Path(temp) / "head.log", "wb")  # noqa: SIM115 -- open for the whole session
    head = subprocess.Popen(
        [
            _ray_cli(), "start", "--head", "--block",
            "--node-ip-address=127.0.0.1", f"--port={port}", f"--num-cpus={CPUS}", "--num-gpus=0",
            "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"},
    )  # fmt: skip
    try:
        _wait_until_up(head, port, Path(temp) / "head.log")
        yield address
    finally:
        _stop(head)
        log.close()


@pytest.fixture(scope="session")
def ray_head_dir() -> Iterator[Path]:
    """The head's temp dir (its logs included), removed at the end of the session."""
    temp = tempfile.mkdtemp(prefix="roost-ray-")  # short: Ray's socket paths must stay under 108 bytes
    yield Path(temp)
    remove_soon(Path(temp))


def remove_soon(folder: Path) -> None:
    """Remove ``folder``; Ray workers of the head, exiting in their own sessions, may still write
    into it for a moment."""
    for _ in range(10):
        shutil.rmtree(folder, ignore_errors=True)
        if not folder.exists():
            return
        time.sleep(0.3)


def _wait_until_up(head: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if head.poll() is not None:
            raise RuntimeError(f"ray start exited with {head.returncode}:\n{log.read_text()[-3000:]}")
        if b"Ray runtime started" in log.read_bytes():
            return
        time.sleep(0.1)
    raise RuntimeError(f"the Ray head did not start in 60 s:\n{log.read_text()[-3000:]}")


def _stop(head: subprocess.Popen[bytes]) -> None:
    """Stop the head and every process it started (its session): SIGTERM, then SIGKILL."""
    if ray.is_initialized():
        ray.shutdown()
    ray_cluster._CLUSTER = None
    # A short grace: the head's daemons ignore SIGTERM for a long time, and nothing here needs saving.
    for sig, wait in ((signal.SIGTERM, 2), (signal.SIGKILL, 5)):
        try:
            os.killpg(head.pid, sig)
        except ProcessLookupError:
            break
        try:
            head.wait(wait)
        except subprocess.TimeoutExpired:
            continue
        break
    # Workers and daemons started by the head may have outlived it in the same session.
    try:
        os.killpg(head.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@pytest.fixture
def on_ray(ray_head: str) -> Iterator[str]:
    """``flyte.init(ray_address=...)`` for one test (the process-wide setting is taken away after)."""
    init(ray_address=ray_head)
    yield ray_head
    settings.set_current(dataclasses.replace(settings.current(), ray_address=None))
