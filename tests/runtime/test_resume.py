"""Durable runs: a run whose process is killed with SIGKILL resumes, reusing what succeeded."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import roost as flyte
from roost.models import ActionPhase

PROGRAM = textwrap.dedent(
    """
    import asyncio, os, sys
    from pathlib import Path
    import roost as flyte

    env = flyte.TaskEnvironment(name="resumable")
    MARKS = Path(os.environ["MARKS"])

    @env.task
    async def step(i: int) -> int:
        with open(MARKS / f"step-{i}", "a") as f:
            f.write("x")
        if i == 3 and os.environ.get("BLOCK_AT_3"):
            (MARKS / "blocked").write_text("yes")
            await asyncio.sleep(3600)
        return i * i

    @env.task
    def sync_step(i: int) -> int:
        with open(MARKS / f"sync-{i}", "a") as f:
            f.write("x")
        return i

    @env.task
    async def pipeline(n: int) -> int:
        total = await sync_step.aio(100)
        for i in range(n):
            total += await step(i)
        return total

    if __name__ == "__main__":
        flyte.with_runcontext(name=sys.argv[1]).run(pipeline, 6)
    """
)


def runs_of(marks: Path, name: str) -> int:
    path = marks / name
    return len(path.read_text()) if path.exists() else 0


def test_resume_after_sigkill(tmp_path, roost_home, monkeypatch, store):
    marks = tmp_path / "marks"
    marks.mkdir()
    script = tmp_path / "resumable.py"
    script.write_text(PROGRAM)
    env = {**os.environ, "MARKS": str(marks), "BLOCK_AT_3": "1", "ROOST_HOME": str(roost_home)}
    proc = subprocess.Popen([sys.executable, str(script), "resume-me"], env=env)
    try:
        deadline = time.monotonic() + 30
        while not (marks / "blocked").exists():
            assert proc.poll() is None, "the run ended before it was killed"
            assert time.monotonic() < deadline, "the run never reached step 3"
            time.sleep(0.02)
        time.sleep(0.2)  # a few group commits
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    died = store.get_run("resume-me")
    assert died.phase is ActionPhase.RUNNING  # nobody was left to record an ending
    done_before = {a.task_name + str(a.phase) for a in store.list_actions("resume-me")}
    assert "resumable.stepsucceeded" in done_before

    monkeypatch.setenv("MARKS", str(marks))
    run = flyte.with_runcontext().rerun("resume-me", recover=True)
    assert run.outputs()[0] == 100 + sum(i * i for i in range(6))
    assert [runs_of(marks, f"step-{i}") for i in range(6)] == [1, 1, 1, 2, 1, 1]
    assert runs_of(marks, "sync-100") == 1
    recovered = store.get_run(run.name)
    assert recovered.recovered_from == "resume-me" and recovered.phase is ActionPhase.SUCCEEDED
    phases = [(a.task_name, a.phase) for a in store.list_actions(run.name)]
    assert phases.count(("resumable.step", ActionPhase.RECOVERED)) == 3
    assert phases.count(("resumable.sync_step", ActionPhase.RECOVERED)) == 1
    assert phases.count(("resumable.step", ActionPhase.SUCCEEDED)) == 3
    assert phases[0] == ("resumable.pipeline", ActionPhase.SUCCEEDED)


def test_rerun_without_recover_runs_everything(tmp_path, monkeypatch, store):
    marks = tmp_path / "marks2"
    marks.mkdir()
    script = tmp_path / "again.py"
    script.write_text(PROGRAM.replace('name="resumable"', 'name="again"'))
    monkeypatch.setenv("MARKS", str(marks))
    monkeypatch.delenv("BLOCK_AT_3", raising=False)
    proc = subprocess.run([sys.executable, str(script), "first"], env={**os.environ}, timeout=60)
    assert proc.returncode == 0
    again = flyte.with_runcontext().rerun("first")
    assert again.name == "first-r1" and again.outputs()[0] == 155
    assert [runs_of(marks, f"step-{i}") for i in range(6)] == [2] * 6
    with pytest.raises(ValueError, match="no run named"):
        flyte.with_runcontext().rerun("never-was")
