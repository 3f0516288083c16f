"""Async task code that never awaits blocks the runtime loop every action of the process shares.
The loop's watchdog (runtime/loop_watch.py) reports the stall with the action that caused it, and
stops the body when its max_runtime passes or its run is aborted (Ctrl-C, `roost abort`). Each case
runs in a process of its own with a timeout: without the watchdog, these hang."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from roost.models import ActionPhase
from roost.store.run_store import RunStore

PROGRAM = textwrap.dedent(
    """
    import sys, time
    from datetime import timedelta
    import roost as flyte

    env = flyte.TaskEnvironment(name="stalls")

    def spin(seconds: float) -> int:
        end, n = time.monotonic() + seconds, 0
        while time.monotonic() < end:  # pure Python that never yields to the event loop
            n += 1
        return n

    @env.task(timeout=timedelta(seconds=1))
    async def never_awaits() -> int:
        return spin(3600)

    @env.task
    async def hogs_a_while() -> str:
        spin(1.6)
        return "done"

    @env.task
    async def forever() -> int:
        return spin(3600)

    if __name__ == "__main__":
        which = sys.argv[1]
        try:
            run = flyte.with_runcontext(name=sys.argv[2]).run(globals()[which])
            print("RESULT", run.outputs()[0], flush=True)
        except Exception as e:
            print("FAILED", type(e).__name__, e, flush=True)
    """
)


def start(tmp_path: Path, which: str, name: str) -> subprocess.Popen[str]:
    program = tmp_path / "stalls.py"
    program.write_text(PROGRAM)
    env = {**os.environ, "ROOST_HOME": str(tmp_path / "home")}
    return subprocess.Popen(
        [sys.executable, str(program), which, name],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str], timeout: float = 60) -> tuple[str, str]:
    try:
        return process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()  # a hang is the failure this module guards against: leave no spinning process
        out, err = process.communicate()
        raise AssertionError(f"the program did not end in {timeout} s:\n{out}\n{err}") from None


def root_phase(tmp_path: Path, name: str) -> ActionPhase | None:
    path = tmp_path / "home" / "roost.db"
    if not path.exists():
        return None
    store = RunStore(path, readonly=True)
    try:
        record = store.get_action(name, "a0")
        return None if record is None else record.phase
    finally:
        store.close()


def wait_running(tmp_path: Path, name: str) -> None:
    deadline = time.monotonic() + 30
    while root_phase(tmp_path, name) is not ActionPhase.RUNNING:
        assert time.monotonic() < deadline, "the run never started"
        time.sleep(0.1)
    time.sleep(1.5)  # the body is spinning now, and the loop has been blocked past the report


def test_a_body_that_never_awaits_is_stopped_at_its_max_runtime(tmp_path):
    out, err = finish(start(tmp_path, "never_awaits", "spins"))
    assert "FAILED" in out and "MaxRuntimeExceededError" in out and "without ever awaiting" in out, out + err
    assert "has blocked the runtime loop" in err and "never_awaits" in err
    assert root_phase(tmp_path, "spins") is ActionPhase.TIMED_OUT


def test_a_stall_is_reported_with_the_action_that_caused_it(tmp_path):
    out, err = finish(start(tmp_path, "hogs_a_while", "hogs"))
    assert "RESULT done" in out, out + err
    line = next(line for line in err.splitlines() if "has blocked the runtime loop" in line)
    assert "action a0 (stalls.hogs_a_while)" in line and "stalls.py:" in line and "in spin" in line


def test_ctrl_c_aborts_a_run_whose_body_blocks_the_loop(tmp_path):
    process = start(tmp_path, "forever", "interrupted")
    wait_running(tmp_path, "interrupted")
    process.send_signal(signal.SIGINT)
    out, err = finish(process, timeout=30)
    assert root_phase(tmp_path, "interrupted") is ActionPhase.ABORTED, out + err


def test_roost_abort_stops_a_run_whose_body_blocks_the_loop(tmp_path):
    process = start(tmp_path, "forever", "stopped")
    wait_running(tmp_path, "stopped")
    env = {**os.environ, "ROOST_HOME": str(tmp_path / "home")}
    subprocess.run([sys.executable, "-m", "roost.cli.main", "abort", "stopped"], env=env, check=True, timeout=30)
    out, err = finish(process, timeout=30)
    assert "FAILED" in out and "aborted" in out, out + err
    assert root_phase(tmp_path, "stopped") is ActionPhase.ABORTED
