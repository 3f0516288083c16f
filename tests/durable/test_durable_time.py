"""flyte.durable: sleep / time / now recorded as traced calls and replayed by a recovered run -- a run
killed with SIGKILL while it sleeps sleeps only the remainder once recovered, and reads the same
instants again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

import roost as flyte
from durable.run_helpers import recover
from roost.models import ActionPhase

SLEEP_S = 6.0

PROGRAM = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    import roost as flyte

    env = flyte.TaskEnvironment(name="durable_wf")
    # The same in a worker process: its calls reach the controller as messages.
    in_worker = flyte.TaskEnvironment(name="durable_proc", env_vars={"WHERE": "worker"})
    on_replica = flyte.TaskEnvironment(
        name="durable_pool", reusable=flyte.ReusePolicy(replicas=1, concurrency=2, idle_ttl=60)
    )

    async def body(seconds: float) -> str:
        started = await flyte.durable.time.aio()
        Path(os.environ["MARKS"], "sleeping").write_text(str(started))
        await flyte.durable.sleep.aio(seconds)
        woke = time.time()
        when = flyte.durable.now()
        return f"{started} {woke} {when.timestamp()}"

    @env.task
    async def waits(seconds: float) -> str:
        return await body(seconds)

    @in_worker.task
    async def waits_in_worker(seconds: float) -> str:
        return await body(seconds)

    @on_replica.task
    async def waits_on_replica(seconds: float) -> str:
        return await body(seconds)

    if __name__ == "__main__":
        task = {"inline": waits, "worker": waits_in_worker, "replica": waits_on_replica}[sys.argv[2]]
        flyte.with_runcontext(name=sys.argv[1]).run(task, seconds=float(sys.argv[3]))
    """
)


@pytest.mark.parametrize("where", ["inline", "worker", "replica"])
def test_a_killed_sleeping_run_sleeps_only_the_remainder_once_recovered(
    tmp_path: Path, roost_home: Path, monkeypatch: pytest.MonkeyPatch, store, where: str
):
    marks = tmp_path / "marks"
    marks.mkdir()
    script = tmp_path / "sleeper.py"
    script.write_text(PROGRAM)
    env = {**os.environ, "MARKS": str(marks), "ROOST_HOME": str(roost_home)}
    name = f"sleeper-{where}"
    proc = subprocess.Popen([sys.executable, str(script), name, where, str(SLEEP_S)], env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not (marks / "sleeping").exists():
            assert proc.poll() is None, "the run ended before it was killed"
            assert time.monotonic() < deadline, "the run never started sleeping"
            time.sleep(0.02)
        time.sleep(1.0)  # asleep, its start recorded (a few group commits)
        os.killpg(proc.pid, signal.SIGKILL)  # the run's process and its workers
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    started = float((marks / "sleeping").read_text())
    assert store.get_run(name).phase is ActionPhase.RUNNING  # it died asleep

    run = flyte.remote.Run.get(recover(tmp_path, roost_home, "sleeper", name, MARKS=str(marks)))
    replayed, woke, now = (float(v) for v in run.outputs()[0].split())
    assert replayed == started  # time() answered from the record, not read again
    assert woke >= started + SLEEP_S  # it slept the whole time, counted from the first start...
    assert woke < started + SLEEP_S + 2.5, "the recovered run slept a full interval again"  # ...not again
    assert now >= woke - 0.1
    traced = [a for a in store.list_actions(run.name) if a.isolation == "trace"]
    assert sorted(a.short_name for a in traced) == ["durable_sleep", "durable_time", "durable_time"]


def test_outside_a_task_they_are_plain_calls():
    before = time.time()
    assert before <= flyte.durable.time() <= time.time()
    assert abs(flyte.durable.now() - datetime.now(timezone.utc)).total_seconds() < 1
    flyte.durable.sleep(0.01)
    with pytest.raises(ValueError, match="negative"):
        flyte.durable.sleep(-1)
    with pytest.raises(TypeError, match="number of seconds"):
        flyte.durable.sleep("1")  # type: ignore[arg-type]
