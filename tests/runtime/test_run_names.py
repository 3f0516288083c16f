"""Run names: claimed atomically (of runs started with one name at once, exactly one goes ahead and
the others record nothing), and validated wherever a name becomes a folder."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import roost as flyte
from roost.models import ActionPhase
from roost.runtime.ids import RUN_NAME_MAX, check_run_name
from roost.store.records import RunRecord
from roost.store.run_store import RunNameTaken, RunStore

env = flyte.TaskEnvironment(name="run_names")


@env.task
async def echo(x: int) -> int:
    return x


RACER = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    import roost as flyte
    from roost.store.open_stores import get_store

    env = flyte.TaskEnvironment(name="racers")

    @env.task
    async def who(tag: str) -> str:
        print(f"racer {tag}")
        return tag

    if __name__ == "__main__":
        tag, go = sys.argv[1], Path(sys.argv[2])
        get_store()  # open the store first, so that the racers meet at the claim
        (go.parent / f"ready-{tag}").write_text("x")
        while not go.exists():
            time.sleep(0.0005)
        try:
            run = flyte.with_runcontext(name="contested").run(who, tag)
        except ValueError as e:
            print(f"REFUSED {e}")
        else:
            print(f"WON {run.outputs()[0]}")
    """
)


def test_one_of_many_simultaneous_runs_gets_the_name(tmp_path: Path, roost_home: Path) -> None:
    script = tmp_path / "racer.py"
    script.write_text(RACER)
    go = tmp_path / "go"
    tags = [f"t{i}" for i in range(8)]
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), tag, str(go)],
            env={**os.environ, "ROOST_HOME": str(roost_home)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for tag in tags
    ]
    try:
        deadline = time.monotonic() + 120
        while not all((tmp_path / f"ready-{tag}").exists() for tag in tags):
            assert time.monotonic() < deadline, "the racers never got ready"
            assert all(p.poll() is None for p in procs), [p.communicate() for p in procs if p.poll() is not None]
            time.sleep(0.02)
        go.write_text("go")
        results = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    lines = [out.strip().splitlines()[-1] for out, _ in results]
    winners = [line for line in lines if line.startswith("WON ")]
    assert len(winners) == 1, lines
    assert sorted(lines) == sorted(
        winners + ["REFUSED a run named 'contested' already exists; choose another name"] * 7
    )
    winner = winners[0].split()[1]
    store = RunStore(roost_home / "roost.db", readonly=True)
    try:
        record = store.get_run("contested")
        assert record is not None and record.phase is ActionPhase.SUCCEEDED
        (action,) = store.list_actions("contested")
        assert [line.line for line in store.list_logs("contested")] == [f"racer {winner}"]
        assert action.phase is ActionPhase.SUCCEEDED
    finally:
        store.close()


def test_claim_is_one_insert(store: RunStore) -> None:
    other = RunStore(store.path)  # another connection, as another process has
    try:
        record = RunRecord(name="mine", task_name="t", phase=ActionPhase.RUNNING, mode="local", created_at=1.0)
        store.claim_run(record)
        with pytest.raises(RunNameTaken, match="a run named 'mine' already exists"):
            other.claim_run(
                RunRecord(name="mine", task_name="u", phase=ActionPhase.RUNNING, mode="local", created_at=2.0)
            )
        kept = other.get_run("mine")
        assert kept is not None and kept.task_name == "t"
    finally:
        other.close()


def test_a_taken_name_is_refused_and_records_nothing(store: RunStore) -> None:
    flyte.with_runcontext(name="taken").run(echo, 1)
    with pytest.raises(ValueError, match="a run named 'taken' already exists"):
        flyte.with_runcontext(name="taken").run(echo, 2)
    assert flyte.with_runcontext(name="taken-2").run(echo, 3).outputs()[0] == 3
    assert [a.inputs_hash for a in store.list_actions("taken")] == [store.list_actions("taken")[0].inputs_hash]
    assert len(store.list_actions("taken")) == 1


def test_recover_takes_the_next_free_name(store: RunStore) -> None:
    flyte.with_runcontext(name="base").run(echo, 1)
    flyte.with_runcontext(name="base-r1").run(echo, 5)
    again = flyte.with_runcontext().rerun("base", recover=True)
    assert again.name == "base-r2" and again.outputs()[0] == 1


@pytest.mark.parametrize(
    "name", ["../../escaped", "/tmp/abs", "a/b", ".hidden", "..", "UPPER", "with space", "", "x" * (RUN_NAME_MAX + 1)]
)
def test_bad_run_names_are_refused(name: str, store: RunStore, roost_home: Path) -> None:
    with pytest.raises(ValueError, match="lowercase letters, digits"):
        flyte.with_runcontext(name=name).run(echo, 1)
    assert store.list_runs() == []
    assert not (roost_home / "runs").exists()


def test_bad_name_for_a_rerun_is_refused(store: RunStore, roost_home: Path) -> None:
    flyte.with_runcontext(name="src").run(echo, 1)
    with pytest.raises(ValueError, match=r"invalid run name '\.\./out'"):
        flyte.with_runcontext(name="../out").rerun("src", recover=True)
    assert [r.name for r in store.list_runs()] == ["src"]
    assert not (roost_home.parent / "out").exists()


def test_generated_names_follow_the_rule() -> None:
    from roost.runtime.ids import new_run_name

    assert check_run_name(new_run_name())
    assert check_run_name("nightly_2026.12.06-r3") == "nightly_2026.12.06-r3"
