"""A real roost server over a store holding a few finished runs, a headless Chromium to look at its
console, and a folder for screenshots (``$ROOST_CONSOLE_ARTIFACTS`` keeps them; else a temporary one).

The browser is Debian's ``chromium`` driven by Playwright (``$ROOST_TEST_CHROMIUM`` names another
binary); where either is missing, or the browser cannot start, the browser tests are skipped, saying why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# tests/ is on sys.path (its folders are packages, it is not): the server tests' real server process.
from server.conftest import Server, start_server, stop_server

HERE = Path(__file__).parent
TASKS = HERE / "console_tasks.py"


def chromium_path() -> str | None:
    return os.environ.get("ROOST_TEST_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def roost_cli(home: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("ROOST_ENDPOINT", "ROOST_API_KEY", "DISPLAY")}
    return subprocess.run(
        [sys.executable, "-m", "roost.cli.main", *args],
        env={**env, "ROOST_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def run_tasks(home: Path, *args: str) -> subprocess.Popen[bytes]:
    """``console_tasks.py ARGS`` as a program of its own, recording its runs in ``home`` (the server's store)."""
    log = open(home / f"tasks-{'-'.join(args[:2])}.log", "ab")  # noqa: SIM115 -- the process's output
    return subprocess.Popen(
        [sys.executable, str(TASKS), *args],
        cwd=HERE,
        env={**os.environ, "ROOST_HOME": str(home)},
        stdout=log,
        stderr=log,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def seeded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("console-home")
    seeding = run_tasks(home, "seed")
    server = start_server(home)
    try:
        assert seeding.wait(120) == 0, (home / "tasks-seed.log").read_text()
        yield server
    finally:
        stop_server(server)


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    kept = os.environ.get("ROOST_CONSOLE_ARTIFACTS")
    folder = Path(kept) if kept else tmp_path_factory.mktemp("console-screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        pytest.skip("the browser tests need Playwright for Python (pip install playwright)")
    executable = chromium_path()
    if executable is None:
        pytest.skip("the browser tests need Chromium (apt-get install chromium, or $ROOST_TEST_CHROMIUM)")
    manager = sync_playwright().start()
    try:
        try:
            launched = manager.chromium.launch(executable_path=executable, args=["--no-sandbox"], timeout=30_000)
        except Error as e:
            pytest.skip(f"Chromium ({executable}) did not start: {str(e).splitlines()[0]}")
        yield launched
        launched.close()
    finally:
        manager.stop()


def wait_until(check: Any, timeout: float = 20.0, what: str = "the condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what} did not happen within {timeout} s")


def seed_big_run(store: Any, created: float) -> None:
    """Run "big-run": a root, 30 children, 100 grandchildren each (3031 actions, more than the console
    shows whole)."""
    from roost.store.records import ActionPhase, ActionRecord, RunRecord

    store.put_run(RunRecord("big-run", "pkg.fan", ActionPhase.SUCCEEDED, "local", created))
    done, seq = ActionPhase.SUCCEEDED, 0
    store.mark(ActionRecord("big-run", "a0", None, "pkg.fan", "fan", None, seq, done, 1))
    for c in range(30):
        seq += 1
        store.mark(ActionRecord("big-run", f"c{c}", "a0", "pkg.part", "part", None, seq, done, 1))
        for g in range(100):
            seq += 1
            store.mark(ActionRecord("big-run", f"c{c}-g{g}", f"c{c}", "pkg.leaf", "leaf", None, seq, done, 1))
