"""A task that raises SystemExit, KeyboardInterrupt or another BaseException fails its action like any
error (retries apply); it never stops the controller. Ctrl-C of the launching process still aborts
the run. Each case runs in a process of its own, with a timeout: today's failure mode is a hang."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from roost.models import ActionPhase
from roost.store.run_store import RunStore

PROGRAM = textwrap.dedent(
    """
    import asyncio, os, sys, time
    from pathlib import Path
    import roost as flyte

    env = flyte.TaskEnvironment(name="exits")
    worker_env = flyte.TaskEnvironment(name="exits_worker", env_vars={"IN_WORKER": "1"})
    MARKS = Path(os.environ["MARKS"])

    class Escape(BaseException):
        pass

    @env.task
    async def async_exit() -> int:
        sys.exit(3)

    @env.task
    def sync_interrupt() -> int:
        raise KeyboardInterrupt

    @env.task(timeout=60)
    async def limited_escape() -> int:
        raise Escape("custom")

    @worker_env.task
    def worker_exit() -> int:
        sys.exit(4)

    @worker_env.task
    async def worker_async_interrupt() -> int:
        raise KeyboardInterrupt

    @env.task(retries=1)
    async def exits_once() -> int:
        mark = MARKS / "tried"
        if not mark.exists():
            mark.write_text("x")
            sys.exit("first attempt")
        return 7

    @env.task
    async def parent() -> str:
        try:
            await async_exit()
        except Exception as e:
            return f"caught {type(e).__name__}: {e}"
        return "not raised"

    @env.task
    def sleeper() -> int:
        (MARKS / "started").write_text("x")
        time.sleep(600)
        return 1

    if __name__ == "__main__":
        task = globals()[sys.argv[2]]
        try:
            run = flyte.with_runcontext(name=sys.argv[1]).run(task)
        except Exception as e:
            print(f"FAILED {type(e).__name__}: {e}")
        else:
            print(f"RESULT {run.outputs()[0]}")
    """
)


@pytest.fixture
def program(tmp_path: Path, roost_home: Path) -> tuple[Path, dict[str, str]]:
    script = tmp_path / "exits.py"
    script.write_text(PROGRAM)
    marks = tmp_path / "marks"
    marks.mkdir()
    return script, {**os.environ, "MARKS": str(marks), "ROOST_HOME": str(roost_home)}


def _run(program: tuple[Path, dict[str, str]], name: str, task: str) -> str:
    script, env = program
    proc = subprocess.run(
        [sys.executable, str(script), name, task], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()[-1]


def _run_phase(home: Path, name: str) -> ActionPhase:
    store = RunStore(home / "roost.db", readonly=True)
    try:
        record = store.get_run(name)
        assert record is not None
        return record.phase
    finally:
        store.close()


@pytest.mark.parametrize(
    ("task", "named"),
    [
        ("async_exit", "SystemExit: 3"),
        ("sync_interrupt", "KeyboardInterrupt"),
        ("limited_escape", "Escape: custom"),
        ("worker_exit", "SystemExit: 4"),
        ("worker_async_interrupt", "KeyboardInterrupt"),
    ],
)
def test_escape_fails_the_action(program, roost_home, task, named):
    line = _run(program, task.replace("_", "-"), task)
    assert line == f"FAILED RuntimeUserError: the task raised {named}"
    assert _run_phase(roost_home, task.replace("_", "-")) is ActionPhase.FAILED


def test_parent_catches_a_childs_exit(program, roost_home):
    line = _run(program, "parent", "parent")
    assert line == "RESULT caught RuntimeUserError: the task raised SystemExit: 3"


def test_retries_apply_to_an_exit(program, roost_home):
    assert _run(program, "exits-once", "exits_once") == "RESULT 7"
    store = RunStore(roost_home / "roost.db", readonly=True)
    try:
        (action,) = store.list_actions("exits-once")
        assert action.attempts == 2
        (failed, _) = store.list_attempts("exits-once", action.action_id)
        assert failed.error is not None and failed.error.code == "SystemExit"
    finally:
        store.close()


def test_ctrl_c_of_the_launching_process_still_aborts(program, roost_home, tmp_path):
    script, env = program
    proc = subprocess.Popen([sys.executable, str(script), "interrupted", "sleeper"], env=env, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "marks" / "started").exists():
            assert proc.poll() is None, "the run ended before it was interrupted"
            assert time.monotonic() < deadline, "the task never started"
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    # KeyboardInterrupt is no Exception: the program's handler lets it end the process.
    assert proc.returncode != 0
    assert _run_phase(roost_home, "interrupted") is ActionPhase.ABORTED
