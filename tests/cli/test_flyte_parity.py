"""The commands and options a Flyte user types: run --local/--follow, rerun --action-name /
--force-rerun-action, abort action, get action, get io, get logs --attempt/--show-ts, delete local-cache."""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path

import pytest
from cli_helpers import one_error_line, read_store, wait_for_phase

PARITY = textwrap.dedent(
    '''
    import asyncio
    import os
    from datetime import timedelta

    import roost as flyte
    from roost.errors import ActionAbortedError

    env = flyte.TaskEnvironment(name="par")
    cached = flyte.TaskEnvironment(name="kept", cache="auto")


    @cached.task
    async def cube(x: int) -> int:
        print(f"cubing {x}")
        return x ** 3


    @env.task
    async def cubes(n: int) -> int:
        return sum(await asyncio.gather(*(cube(i) for i in range(n))))


    @env.task(retries=flyte.RetryStrategy(count=1, backoff=flyte.Backoff(base=timedelta(milliseconds=10))))
    async def flaky(marker: str) -> str:
        first = not os.path.exists(marker)
        print("first attempt" if first else "second attempt")
        if first:
            open(marker, "w").close()
            raise RuntimeError("the first attempt fails")
        return "done"


    @env.task
    async def gate(path: str) -> str:
        while not os.path.exists(path):
            await asyncio.sleep(0.02)
        return "opened"


    @env.task
    async def tolerant(path: str) -> str:
        """Its child may be aborted alone: it carries on without it."""
        try:
            return await gate(path)
        except ActionAbortedError as e:
            return f"went on without it ({e})"
    '''
)


@pytest.fixture
def parity(tmp_path: Path) -> Path:
    path = tmp_path / "parity.py"
    path.write_text(PARITY)
    return path


def _child_ids(home: Path, run: str) -> list[str]:
    return [a.action_id for a in read_store(home).list_actions(run) if a.parent_id == "a0"]


def test_run_local_follow_shows_the_output_as_it_comes(roost, parity):
    result = roost("run", "--local", "--follow", "--name", "followed", str(parity), "cubes", "--n", "3")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert {"cubing 0", "cubing 1", "cubing 2"} <= set(lines)
    assert lines[-1] == "9"
    assert "Ctrl-C" not in result.stdout  # no live tree


def test_get_action_lists_and_shows_each_attempt(roost, parity, home, tmp_path):
    marker = tmp_path / "marker"
    assert roost("run", "--name", "retried", str(parity), "flaky", "--marker", str(marker)).returncode == 0
    listed = roost("get", "action", "retried", entry=True)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[0].split()[:3] == ["action", "task", "phase"]
    assert "a0" in listed.stdout and "par.flaky" in listed.stdout
    assert "No actions" not in roost("get", "action", "retried", "--in-phase", "succeeded").stdout
    assert "has no actions in phase failed" in roost("get", "action", "retried", "--in-phase", "failed").stderr
    shown = roost("get", "action", "retried", "a0")
    assert shown.returncode == 0, shown.stderr
    assert "attempt 1" in shown.stdout and "attempt 2" in shown.stdout
    as_json = json.loads(roost("get", "action", "retried", "a0", "--json").stdout)
    assert [a["attempt"] for a in as_json["attempts"]] == [1, 2]
    for attempt in as_json["attempts"]:
        assert [p["phase"] for p in attempt["phases"]] == ["queued", "running"]
        assert all(p["seconds"] >= 0 and p["end"] >= p["start"] for p in attempt["phases"])
    assert roost("get", "action", "retried", "zzz").returncode == 1
    assert roost("get", "action", "ghost").returncode == 1


def test_get_logs_of_one_attempt_with_timestamps(roost, parity, tmp_path):
    assert roost("run", "--name", "twice", str(parity), "flaky", "--marker", str(tmp_path / "m")).returncode == 0
    assert roost("get", "logs", "twice", "a0", "--attempt", "1").stdout.splitlines() == ["first attempt"]
    assert roost("get", "logs", "twice", "a0", "-a", "2").stdout.splitlines() == ["second attempt"]
    assert roost("get", "logs", "twice", "a0").stdout.splitlines() == ["first attempt", "second attempt"]
    assert roost("get", "logs", "twice", "--attempt", "2").stdout.splitlines() == ["[a0] second attempt"]
    (stamped,) = roost("get", "logs", "twice", "a0", "--attempt", "2", "--show-ts").stdout.splitlines()
    stamp, _, text = stamped.partition(" ")
    assert text == "second attempt" and stamp.startswith("20") and stamp.endswith("+00:00")
    none = roost("get", "logs", "twice", "a0", "--attempt", "3")
    assert none.stdout == "" and "attempt 3" in none.stderr
    assert roost("get", "logs", "twice", "--attempt", "0").returncode == 2


def test_get_io_of_a_run_and_of_an_action(roost, parity, home):
    assert roost("run", "--name", "io", str(parity), "cubes", "--n", "3").returncode == 0
    whole = roost("get", "io", "io", entry=True)
    assert whole.returncode == 0, whole.stderr
    assert whole.stdout.splitlines() == ["Inputs", "  n: 3", "Outputs", "  o0: 9"]
    children = sorted(read_store(home).list_actions("io")[1:], key=lambda a: a.seq)
    last = children[-1].action_id
    assert roost("get", "io", "io", last, "-i").stdout.splitlines() == ["Inputs", "  x: 2"]
    assert roost("get", "io", "io", last[:12], "--outputs-only").stdout.splitlines() == ["Outputs", "  o0: 8"]
    both = roost("get", "io", "io", "-i", "-o")
    assert both.returncode == 2 and "--inputs-only" in one_error_line(both.stderr)


def test_rerun_one_action_and_force_rerun_in_a_recovery(roost, parity, home):
    assert roost("run", "--name", "src", str(parity), "cubes", "--n", "3").returncode == 0
    children = sorted(read_store(home).list_actions("src")[1:], key=lambda a: a.seq)
    third = children[2].action_id
    one = roost("rerun", "src", "--action-name", third, "--name", "just-one", "--no-live")
    assert one.returncode == 0, one.stderr
    assert one.stdout.splitlines()[-1] == "8"  # cube(2), with the inputs it received in src
    root = read_store(home).get_action("just-one", "a0")
    assert root.task_name == "kept.cube"
    bad = roost("rerun", "src", "--force-rerun-action", third)
    assert bad.returncode == 2 and "--recover" in one_error_line(bad.stderr)
    both = roost("rerun", "src", "--action-name", third, "--recover")
    assert both.returncode == 2 and "--action-name" in one_error_line(both.stderr)
    forced = roost("rerun", "src", "--recover", "--force-rerun-action", third, "--name", "forced", "--no-live")
    assert forced.returncode == 0, forced.stderr
    phases = {a.action_id: a.phase.value for a in read_store(home).list_actions("forced")}
    assert phases[third] == "succeeded"  # run again, not taken from src
    assert [phases[c.action_id] for c in children[:2]] == ["recovered", "recovered"]


def test_abort_one_action_and_the_run_goes_on(roost, start_roost, parity, home, tmp_path):
    proc = start_roost("run", "--no-live", "--name", "partial", str(parity), "tolerant", "--path", str(tmp_path / "x"))
    wait_for_phase(home, "partial", "running")
    deadline = time.monotonic() + 15
    while not (children := _child_ids(home, "partial")) and time.monotonic() < deadline:
        time.sleep(0.05)
    (child,) = children
    result = roost("abort", "action", "partial", child, "--reason", "not needed", "--wait", entry=True)
    assert result.returncode == 0, result.stderr
    assert f"Action {child} aborted." in result.stdout
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "went on without it" in out and "not needed" in out
    store = read_store(home)
    assert store.get_run("partial").phase.value == "succeeded"
    assert store.get_action("partial", child).phase.value == "aborted"
    again = roost("abort", "action", "partial", child)
    assert again.returncode == 1 and "already finished" in one_error_line(again.stderr)
    assert roost("abort", "run", "partial").returncode == 1  # the long form of `roost abort NAME`


def test_delete_local_cache_forgets_results_and_keeps_runs(roost, parity, home):
    assert roost("run", "--name", "warm", str(parity), "cubes", "--n", "2").returncode == 0
    assert "kept.cube" in roost("cache", "list").stdout
    result = roost("delete", "local-cache", entry=True)
    assert result.returncode == 0, result.stderr
    assert "removed 2 cached entries" in result.stdout
    assert roost("cache", "list").stdout == ""
    assert "warm" in roost("get", "runs").stdout
