"""Fault injection: kill -9 the controller, or one of its workers, at random points of a run that mixes
a fan-out in worker processes, retries and a chain; then recover and check what the store promised.

Short by default (a few kill points); ``pytest --chaos`` runs the long version (>= 20 of each).
Checked each time: no action recorded as succeeded before the kill runs again (executions are counted
by marker files the task bodies write), no output is lost, the final result is right, and
``pragma integrity_check`` says ok.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.chaos

N = 6
EXPECTED = sum(i * i for i in range(N)) + sum(i + 1 for i in range(N)) + sum(range(8))

PROGRAM = textwrap.dedent(
    """
    import asyncio, os, random, sys, time
    from pathlib import Path
    import roost as flyte

    MARKS = Path(os.environ["MARKS"])
    plain = flyte.TaskEnvironment(name="chaos")
    isolated = flyte.TaskEnvironment(name="chaos_iso", env_vars={"ISOLATED": "1"})

    def mark(kind: str) -> None:
        with open(MARKS / flyte.ctx().action.name, "a") as f:
            f.write(kind[0])

    @isolated.task(retries=3)
    def square(i: int) -> int:
        (MARKS / "pids").mkdir(exist_ok=True)
        (MARKS / "pids" / str(os.getpid())).touch()  # where the test finds a worker to kill
        time.sleep(random.uniform(0.05, 0.25))
        mark("square")
        return i * i

    @plain.task(retries=2)
    async def flaky(i: int) -> int:
        first = MARKS / f"flaky-failed-{i}"
        if not first.exists():  # fails once, the first time it ever runs
            first.touch()
            raise RuntimeError("first attempt fails")
        await asyncio.sleep(random.uniform(0.0, 0.03))
        mark("flaky")
        return i + 1

    @plain.task
    async def link(total: int, i: int) -> int:
        await asyncio.sleep(0.02)
        mark("link")
        return total + i

    @plain.task
    async def main(n: int) -> int:
        squares = await asyncio.gather(*(square.aio(i) for i in range(n)))
        bumped = await asyncio.gather(*(flaky(i) for i in range(n)))
        total = sum(squares) + sum(bumped)
        for i in range(8):
            total = await link(total, i)
        return total

    if __name__ == "__main__":
        name = sys.argv[2]
        if sys.argv[1] == "run":
            run = flyte.with_runcontext(name=name).run(main, N)
        else:
            run = flyte.with_runcontext().rerun(name, recover=True)
        print("RESULT", run.name, run.outputs()[0], flush=True)
    """
).replace("N)", f"{N})")


def _points(request: pytest.FixtureRequest) -> int:
    return 20 if request.config.getoption("--chaos") else 3


def _workers(marks: Path) -> list[int]:
    """Worker processes alive now, running ``square`` (each wrote its pid when it started)."""
    alive = []
    for entry in (marks / "pids").glob("*") if (marks / "pids").exists() else []:
        try:
            state = Path(f"/proc/{entry.name}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z":
            alive.append(int(entry.name))
    return alive


class Chaos:
    def __init__(self, tmp_path: Path):
        self.tmp = tmp_path
        self.home = tmp_path / "home"
        self.script = tmp_path / "chaos_prog.py"
        self.script.write_text(PROGRAM)
        self.env = {**os.environ, "ROOST_HOME": str(self.home)}
        self.figures: dict[str, int] = {
            "kills": 0,
            "recovered_actions": 0,
            "ran_on_recovery": 0,
            "finished_unrecorded_ran_again": 0,
            "finished_alone": 0,
        }

    def start(self, mode: str, name: str, marks: Path) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, str(self.script), mode, name],
            env={**self.env, "MARKS": str(marks)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )

    def db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.home / "roost.db", timeout=30)

    def recorded(self, name: str) -> bool:
        if not (self.home / "roost.db").exists():
            return False
        try:
            with self.db() as db:
                return db.execute("SELECT 1 FROM actions WHERE run_name = ?", (name,)).fetchone() is not None
        except sqlite3.OperationalError:
            return False

    def succeeded(self, name: str) -> set[str]:
        with self.db() as db:
            rows = db.execute(
                "SELECT action_id FROM actions WHERE run_name = ? AND phase IN ('succeeded', 'recovered')", (name,)
            )
            return {r[0] for r in rows}

    def counts(self, marks: Path) -> dict[str, int]:
        return {p.name: len(p.read_text()) for p in marks.iterdir() if p.is_file() and not p.name.startswith("flaky")}

    def one(self, index: int, target: str, rng: random.Random) -> None:
        name = f"chaos-{target}-{index}"
        marks = self.tmp / f"marks-{name}"
        marks.mkdir()
        proc = self.start("run", name, marks)
        # A random point of the run: counted from when its root action is recorded.
        while proc.poll() is None and not self.recorded(name):
            time.sleep(0.01)
        deadline = time.monotonic() + rng.uniform(0.0, 1.2 if target == "controller" else 0.2)
        killed = False
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.01)
        if proc.poll() is None:
            if target == "controller":
                os.kill(proc.pid, signal.SIGKILL)
                killed = True
            else:
                for _ in range(400):  # a worker running an action, at the first chance after the point
                    workers = _workers(marks)
                    if workers:
                        os.kill(rng.choice(workers), signal.SIGKILL)
                        killed = True
                        break
                    if proc.poll() is not None:
                        break
                    time.sleep(0.005)
        out, err = proc.communicate(timeout=120)
        self.figures["kills"] += killed
        if target == "worker" and proc.returncode == 0:
            # A killed worker fails only its attempt; retries finish the run on its own.
            self.figures["finished_alone"] += 1
            assert f"RESULT {name} {EXPECTED}" in out, err[-3000:]
            self.check_store(name)
            return
        recorded = self.succeeded(name)
        time.sleep(0.1)  # orphaned workers of the killed controller see it gone and stop
        before = self.counts(marks)
        recovery = self.start("recover", name, marks)
        out, err = recovery.communicate(timeout=120)
        assert recovery.returncode == 0, err[-3000:]
        assert f" {EXPECTED}" in out.split("RESULT", 1)[1], out
        recovered_name = out.split("RESULT", 1)[1].split()[0]
        after = self.counts(marks)
        rerun = {a: after.get(a, 0) - before.get(a, 0) for a in recorded if after.get(a, 0) != before.get(a, 0)}
        assert not rerun, f"actions recorded succeeded ran again: {rerun}"
        self.figures["recovered_actions"] += len(recorded)
        unrecorded = [a for a in after if a not in recorded and after[a] != before.get(a, 0)]
        self.figures["ran_on_recovery"] += len(unrecorded)
        # At least once: a body that finished but whose success was not committed when the controller died.
        self.figures["finished_unrecorded_ran_again"] += sum(1 for a in unrecorded if before.get(a, 0))
        self.check_store(recovered_name)

    def check_store(self, name: str) -> None:
        with self.db() as db:
            rows = db.execute("SELECT action_id, phase, outputs FROM actions WHERE run_name = ?", (name,)).fetchall()
            assert rows and all(phase in ("succeeded", "recovered") for _, phase, _ in rows), rows
            assert all(outputs is not None for _, _, outputs in rows), "an output was lost"
            assert db.execute("pragma integrity_check").fetchone()[0] == "ok"


@pytest.mark.parametrize("target", ["controller", "worker"])
def test_kill_at_random_points_then_recover(tmp_path: Path, request: pytest.FixtureRequest, target: str) -> None:
    chaos = Chaos(tmp_path)
    seed = int(os.environ.get("ROOST_CHAOS_SEED", time.time()))
    rng = random.Random(seed)
    points = _points(request)
    started = time.monotonic()
    for index in range(points):
        chaos.one(index, target, rng)
    figures = ", ".join(f"{k}={v}" for k, v in chaos.figures.items())
    print(f"\nchaos {target}: seed={seed} points={points} {figures} in {time.monotonic() - started:.1f}s")
    assert chaos.figures["kills"] >= points // 2
