"""The CLI runs as a real process against a ROOST_HOME of the test's own, on a small program file."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_helpers import PROGRAM, ROOST


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def cli_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["ROOST_HOME"] = str(home)
    env.pop("ROOST_DEBUG", None)
    return env


@pytest.fixture
def prog(tmp_path: Path) -> Path:
    path = tmp_path / "prog.py"
    path.write_text(PROGRAM)
    return path


RunCli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def roost(cli_env: dict[str, str], tmp_path: Path) -> RunCli:
    """``roost(*args)``: the CLI as ``python -m roost.cli.main`` (``entry=True``: the console script)."""

    def run(*args: str, entry: bool = False, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        command = [str(ROOST)] if entry else [sys.executable, "-m", "roost.cli.main"]
        return subprocess.run(
            [*command, *args], env=cli_env, cwd=tmp_path, capture_output=True, text=True, timeout=timeout
        )

    return run


@pytest.fixture
def start_roost(cli_env: dict[str, str], tmp_path: Path) -> Callable[..., subprocess.Popen[str]]:
    """A `roost` process left running; the test ends it."""
    started: list[subprocess.Popen[str]] = []

    def start(*args: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [str(ROOST), *args],
            env=cli_env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
