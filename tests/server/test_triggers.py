"""Triggers that fire: schedules computed right (DST included), a real server firing a FixedRate trigger
with the firing time bound to an input, a missed schedule fired once after a restart, backfill,
activation from the CLI and flyte.remote.Trigger, and bad triggers refused at deploy.

The server here reads its schedules on a test clock (``ROOST_SCHEDULE_CLOCK``) running SCALE times
faster than the real one, so a one-minute interval (FixedRate's public minimum) passes in seconds.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import pytest

import roost as flyte
from roost.errors import DeploymentError
from roost.server.scheduler import fire_run_name
from roost.server.schedules import CLOCK_ENV, Clock, last_time, next_time, times_between

from .conftest import Server, start_server, stop_server

SCALE = 20.0  # one scheduled minute = 3 real seconds
MINUTE = 60.0


def ts(*parts: int) -> float:
    return datetime(*parts, tzinfo=timezone.utc).timestamp()


def utc_text(at: float) -> str:
    return datetime.fromtimestamp(at, timezone.utc).strftime("%Y-%m-%d %H:%M")


# -- the schedules themselves ---------------------------------------------------------------------------
def test_cron_in_a_timezone_across_both_dst_changes():
    nine_ny = {"kind": "cron", "expression": "0 9 * * *", "timezone": "America/New_York"}
    # 9:00 in New York is 14:00 UTC in winter and 13:00 UTC from 8 March 2026 (summer time).
    fired = [utc_text(t) for t in times_between(nine_ny, ts(2026, 3, 6), ts(2026, 3, 10), 10)]
    assert fired == ["2026-03-06 14:00", "2026-03-07 14:00", "2026-03-08 13:00", "2026-03-09 13:00"]
    # 2:30 does not exist in New York on 8 March 2026: it fires at the first instant after the gap.
    half_two = {"kind": "cron", "expression": "30 2 * * *", "timezone": "America/New_York"}
    assert utc_text(next_time(half_two, ts(2026, 3, 7, 12))) == "2026-03-08 07:00"  # 03:00 EDT
    # 1:30 happens twice in London on 25 October 2026: a daily job fires once that day...
    london = {"kind": "cron", "expression": "30 1 * * *", "timezone": "Europe/London"}
    fired = [utc_text(t) for t in times_between(london, ts(2026, 10, 24), ts(2026, 10, 27), 10)]
    assert fired == ["2026-10-24 00:30", "2026-10-25 00:30", "2026-10-26 01:30"]
    assert utc_text(last_time(london, ts(2026, 10, 25, 1, 45))) == "2026-10-25 00:30"
    # ...while a job on every hour's half hours fires at each real half hour through the repeated hour.
    halves = {"kind": "cron", "expression": "*/30 * * * *", "timezone": "Europe/London"}
    fired = [utc_text(t) for t in times_between(halves, ts(2026, 10, 24, 23, 50), ts(2026, 10, 25, 2), 10)]
    assert fired == ["2026-10-25 00:00", "2026-10-25 00:30", "2026-10-25 01:00", "2026-10-25 01:30", "2026-10-25 02:00"]


def test_fixed_rate_fires_one_interval_after_activation_or_on_its_start_grid():
    activated = 1_000_000.0
    rate = {"kind": "fixed_rate", "interval_minutes": 5, "start_time": None, "anchor": activated}
    assert next_time(rate, activated) == activated + 300  # not at once
    assert last_time(rate, activated + 299) is None
    assert list(times_between(rate, activated, activated + 900, 10)) == [
        activated + 300,
        activated + 600,
        activated + 900,
    ]
    start = activated + 10_000
    gridded = {"kind": "fixed_rate", "interval_minutes": 5, "start_time": start}
    assert next_time(gridded, activated) == start  # never before its start time
    assert next_time(gridded, start) == start + 300
    assert last_time(gridded, start + 299) == start


def test_fire_run_names_are_valid_and_distinct():
    at = ts(2026, 12, 6, 8, 30)
    assert fire_run_name("wf.main", "Daily Run", at) == "wf.main-daily-run-20261206t083000z"
    long_a = fire_run_name("e." + "x" * 120, "t", at)
    long_b = fire_run_name("e." + "x" * 119 + "y", "t", at)
    assert len(long_a) <= 100 and long_a != long_b and long_a.endswith("20261206t083000z")


def test_the_test_clock_runs_faster_from_its_anchor():
    now = time.time()
    clock = Clock(f"{now}:{SCALE}")
    time.sleep(0.2)
    assert clock.now() - now == pytest.approx(0.2 * SCALE, abs=0.1 * SCALE)
    assert clock.real_seconds(MINUTE) == MINUTE / SCALE


# -- a real server firing them ------------------------------------------------------------------------------
PROGRAM = """
from datetime import datetime

import roost as flyte

env = flyte.TaskEnvironment(name="sched")


@env.task(
    triggers=[flyte.Trigger("every_minute", flyte.FixedRate(1), inputs={"when": flyte.TriggerTime, "label": "tick"})]
)
async def stamp(when: datetime, label: str, extra: int = 0) -> str:
    return f"{label}@{when.isoformat()}"
"""


def api(server: Server, path: str, body: dict | None = None) -> object:
    request = urllib.request.Request(
        server.url + path,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def trigger_runs(server: Server) -> dict[str, dict]:
    runs = api(server, "/api/v1/runs?task=sched.stamp&limit=1000")
    return {r["name"]: r for r in runs}  # type: ignore[union-attr]


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def cli(project: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ROOST_HOME": str(home)}
    command = [sys.executable, "-m", "roost.cli.main", *args]
    return subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def clocked(monkeypatch: pytest.MonkeyPatch) -> str:
    spec = f"{time.time()}:{SCALE}"
    monkeypatch.setenv(CLOCK_ENV, spec)  # the servers started here inherit it
    return spec


def test_fixed_rate_fires_on_time_once_per_time_across_a_restart_and_backfills(
    clocked: str, tmp_path: Path, project: Path
):
    clock = Clock(clocked)
    (project / "sched.py").write_text(PROGRAM)
    home, cli_home = tmp_path / "server-home", tmp_path / "cli-home"
    server = start_server(home)
    try:
        deployed = cli(project, cli_home, "deploy", "sched.py", "--endpoint", server.url)
        assert deployed.returncode == 0, deployed.stderr
        trigger = api(server, "/api/v1/triggers/sched.stamp/every_minute")
        assert trigger["active"] and trigger["time_input"] == "when"  # type: ignore[index]
        activated = math.ceil(trigger["activated_at"])  # type: ignore[index]
        first, second = activated + MINUTE, activated + 2 * MINUTE
        assert trigger["next_fire"] == first  # type: ignore[index]

        # It fires one interval after activation, then again, each run named after its time.
        names = [fire_run_name("sched.stamp", "every_minute", t) for t in (first, second)]
        wait_for(lambda: set(names) <= set(trigger_runs(server)), 30, "two firings")
        runs = trigger_runs(server)
        assert min(runs) == names[0], "something fired before its time"
        for name, at in zip(names, (first, second)):
            assert api(server, f"/api/v1/runs/{name}?wait=30")["phase"] == "succeeded"  # type: ignore[index]
            shown = cli(project, cli_home, "get", "io", name, "--endpoint", server.url)
            stamp = datetime.fromtimestamp(at, timezone.utc).isoformat()
            assert f"'tick@{stamp}'" in shown.stdout, shown.stdout  # the scheduled time, bound to `when`
        header = cli(project, cli_home, "get", "run", names[0], "--endpoint", server.url).stdout
        assert "sched.stamp/every_minute" in header and deployed.stdout.split()[-2] in header  # trigger, version
        last = max(at for at in (first, second))
    finally:
        stop_server(server)

    # Stopped across two scheduled times: on restart the latest missed time fires, once, not a burst.
    with sqlite3.connect(home / "server" / "registry.sqlite") as registry:
        last_fired = registry.execute("SELECT last_fired FROM triggers").fetchone()[0]
    assert last_fired >= last
    wait_for(lambda: clock.now() > last_fired + 2.5 * MINUTE, 30, "two scheduled times to pass")
    server = start_server(home)
    try:
        after = wait_for(
            lambda: sorted(
                n for n in trigger_runs(server) if n > fire_run_name("sched.stamp", "every_minute", last_fired)
            ),
            20,
            "the missed firing",
        )
        skipped = fire_run_name("sched.stamp", "every_minute", last_fired + MINUTE)
        assert skipped not in trigger_runs(server), "an earlier missed time fired: a burst"
        assert after[0] >= fire_run_name("sched.stamp", "every_minute", last_fired + 2 * MINUTE)

        # Backfill the period: exactly the missing time gets a run; again, nothing.
        since, until = last_fired, last_fired + 2 * MINUTE
        period = ("--from", datetime.fromtimestamp(since, timezone.utc).isoformat(),
                  "--to", datetime.fromtimestamp(until, timezone.utc).isoformat())  # fmt: skip
        filled = cli(project, cli_home, "trigger", "backfill", "every_minute", *period, "--endpoint", server.url)
        assert filled.returncode == 0, filled.stderr
        expected_missing = [n for n in (skipped, fire_run_name("sched.stamp", "every_minute", until))
                            if n not in after]  # fmt: skip
        assert filled.stdout.split() == expected_missing
        wait_for(lambda: skipped in trigger_runs(server), 20, "the backfilled run")
        again = cli(project, cli_home, "trigger", "backfill", "every_minute", *period, "--endpoint", server.url)
        assert again.returncode == 0 and again.stdout.split() == [] and "2 times had a run already" in again.stderr
    finally:
        stop_server(server)


def test_activate_deactivate_and_flyte_remote_trigger(clocked: str, tmp_path: Path, project: Path):
    (project / "sched.py").write_text(PROGRAM)
    home, cli_home = tmp_path / "server-home", tmp_path / "cli-home"
    server = start_server(home)
    try:
        assert cli(project, cli_home, "deploy", "sched.py", "--endpoint", server.url).returncode == 0
        off = cli(project, cli_home, "trigger", "deactivate", "every_minute", "--endpoint", server.url)
        assert off.returncode == 0 and "inactive" in off.stdout
        time.sleep(2 * MINUTE / SCALE)  # two intervals: an inactive trigger fires nothing
        assert trigger_runs(server) == {}
        listed = cli(project, cli_home, "get", "triggers", "--endpoint", server.url)
        assert "every 1 min" in listed.stdout and "inactive" in listed.stdout
        typo = cli(project, cli_home, "trigger", "activate", "every_minut", "--endpoint", server.url)
        assert typo.returncode == 2 and "no trigger named 'every_minut'" in typo.stderr

        script = project / "remote_triggers.py"
        script.write_text(
            "import sys\nimport roost as flyte\nflyte.init(endpoint=sys.argv[1])\n"
            "T = flyte.remote.Trigger\n"
            "print('LIST', [(t.task_name, t.name, t.is_active) for t in T.listall()])\n"
            "T.update('every_minute', 'sched.stamp', active=True)\n"
            "got = T.get(name='every_minute', task_name='sched.stamp')\n"
            "print('ACTIVE', got.is_active, got.next_fire is not None, got.time_input)\n"
            "made = T.create(flyte.Trigger('nightly', flyte.Cron('0 3 * * *', 'Europe/Paris'), "
            "inputs={'when': flyte.TriggerTime, 'label': 'night'}), task_name='sched.stamp')\n"
            "print('CREATED', made.automation_spec['timezone'], made.is_active)\n"
            "T.delete('nightly', 'sched.stamp')\n"
            "print('AFTER', sorted(t.name for t in T.listall(task_name='sched.stamp')))\n"
            "try:\n"
            "    T.create(flyte.Trigger('bad', flyte.FixedRate(5), inputs={'nope': 1}), task_name='sched.stamp')\n"
            "except flyte.errors.DeploymentError as e:\n"
            "    print('REFUSED', e)\n"
        )
        done = subprocess.run([sys.executable, str(script), server.url], cwd=project, capture_output=True, text=True,
                              env={**os.environ, "ROOST_HOME": str(cli_home)}, timeout=60)  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "LIST [('sched.stamp', 'every_minute', False)]" in done.stdout
        assert "ACTIVE True True when" in done.stdout
        assert "CREATED Europe/Paris True" in done.stdout
        assert "AFTER ['every_minute']" in done.stdout
        assert "REFUSED" in done.stdout and "'nope'" in done.stdout
        first = wait_for(lambda: trigger_runs(server), 20, "a firing after activation")
        assert len(first) == 1

        # On demand: fired now, from the CLI and with flyte.run(trigger), with the trigger's inputs.
        fired = cli(project, cli_home, "trigger", "fire", "every_minute", "--endpoint", server.url)
        assert fired.returncode == 0, fired.stderr
        assert api(server, f"/api/v1/runs/{fired.stdout.strip()}?wait=30")["phase"] == "succeeded"  # type: ignore[index]
        script.write_text(
            "import sys\nimport roost as flyte\nflyte.init(endpoint=sys.argv[1])\n"
            "run = flyte.run(flyte.remote.Trigger.get(name='every_minute', task_name='sched.stamp'))\n"
            "run.wait(quiet=True)\nprint('FIRED', run.name, run.outputs()[0])\n"
        )
        done = subprocess.run([sys.executable, str(script), server.url], cwd=project, capture_output=True, text=True,
                              env={**os.environ, "ROOST_HOME": str(cli_home)}, timeout=60)  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "FIRED sched.stamp-every_minute-" in done.stdout and "tick@" in done.stdout
    finally:
        stop_server(server)


def test_bad_triggers_are_refused_at_deploy(tmp_path: Path, project: Path):
    env = flyte.TaskEnvironment(name="bad_triggers")

    @env.task(triggers=flyte.Trigger("t", flyte.FixedRate(5), inputs={"when": flyte.TriggerTime}))
    async def needs_two(when: datetime, count: int) -> int:
        return count

    with pytest.raises(DeploymentError, match="leaves input\\(s\\) count without a value"):
        flyte.deploy(env, dry_run=True)

    env2 = flyte.TaskEnvironment(name="bad_triggers2")

    @env2.task(triggers=flyte.Trigger("t", flyte.Cron("0 * * * *"), inputs={"cnt": 1}))
    async def typo(count: int = 1) -> int:
        return count

    with pytest.raises(DeploymentError, match="gives input 'cnt', which the task does not have \\(count\\)"):
        flyte.deploy(env2, dry_run=True)
    (project / "bad.py").write_text(
        "import roost as flyte\nenv = flyte.TaskEnvironment(name='b')\n"
        "@env.task(triggers=flyte.Trigger('t', flyte.Cron('0 * * * *'), inputs={'cnt': 1}))\n"
        "async def typo(count: int = 1) -> int:\n    return count\n"
    )
    refused = cli(project, tmp_path / "home", "deploy", "bad.py", "--dry-run")
    assert refused.returncode == 1 and "which the task does not have" in refused.stderr
    assert refused.stderr.count("\n") == 1, refused.stderr
