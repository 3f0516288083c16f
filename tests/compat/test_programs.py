"""Flyte-style programs (tests/compat/programs) run as scripts: each starts with flyte.init_from_config()
and uses one part of the SDK surface; only the import says roost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from roost.store.run_store import RunStore

PROGRAMS = Path(__file__).parent / "programs"
SRC = Path(__file__).resolve().parents[2] / "src"


def run_program(name: str, cwd: Path, home: Path) -> tuple[dict, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FLYTECTL_CONFIG", "UCTL_CONFIG")}
    env.update(ROOST_HOME=str(home), HOME=str(cwd), PYTHONPATH=os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")]))
    done = subprocess.run(
        [sys.executable, str(PROGRAMS / name)], cwd=cwd, env=env, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def test_every_program_starts_with_init_from_config():
    for path in PROGRAMS.glob("*.py"):
        text = path.read_text()
        assert "import roost as flyte" in text and "flyte.init_from_config()" in text, path.name


def test_config_and_logger(tmp_path: Path, roost_home: Path):
    (tmp_path / ".flyte").mkdir()
    (tmp_path / ".flyte" / "config.yaml").write_text("task:\n  project: greetings\n  domain: development\n")
    out, stderr = run_program("config_and_logger.py", tmp_path, roost_home)
    assert out["result"] == "ADA, BOB" and out["project"] == "greetings"
    assert "greeting 2 people" in stderr
    store = RunStore(roost_home / "roost.db")
    try:
        names = {a.action_id: a.task_name for a in store.list_actions(out["run"])}
        lines = {(names[r.action_id], r.line) for r in store.list_logs(out["run"])}
    finally:
        store.close()
    assert ("greeter.greet", "INFO roost.user: greeting 2 people") in lines
    assert ("shouter.shout", "INFO roost.user: shouting ada") in lines


def test_errors_and_models(tmp_path: Path, roost_home: Path):
    out, _ = run_program("errors_and_models.py", tmp_path, roost_home)
    assert out["outcome"] == {"3": "3", "12": "NonRecoverableError"}
    assert out["required"] == ["value"] and out["schema_required"] == ["value"]
    assert out["config"] == {} and out["apple"] == ["APPLE_SILICON_NOT_AVAILABLE", False]
    store = RunStore(roost_home / "roost.db")
    try:
        attempts = sorted(a.attempts for a in store.list_actions(out["run"]) if a.task_name == "checker.validate")
    finally:
        store.close()
    assert attempts == [1, 1]  # NonRecoverableError is not retried, although retries=3


def test_storage_and_triggers(tmp_path: Path, roost_home: Path):
    out, _ = run_program("storage_and_triggers.py", tmp_path, roost_home)
    assert out["result"] == "night report for 2026-03-04"
    assert out["schedule"] == "CRON_TZ=UTC 0 0 * * *" and out["bound"] == ["prefix", "run_date"]
    assert out["artifact"] == "Artifact Trigger: on new version of model"


def test_a_config_naming_an_unreachable_server_stops_the_program_with_one_clear_error(tmp_path: Path, roost_home: Path):
    # An endpoint names a roost server; none answers there (port 9, discard), so the first run says so.
    (tmp_path / "config.yaml").write_text("admin:\n  endpoint: dns:///127.0.0.1:9\n")
    env = dict(os.environ, ROOST_HOME=str(roost_home), HOME=str(tmp_path), PYTHONPATH=str(SRC))
    done = subprocess.run(
        [sys.executable, str(PROGRAMS / "config_and_logger.py")], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode != 0
    assert "ServerUnreachable" in done.stderr and "cannot reach the roost server at http://127.0.0.1:9" in done.stderr
    assert not (roost_home / "runs").exists()  # nothing recorded


def test_sdk_limits_retries_cache_map_and_a_look_through_flyte_remote(tmp_path: Path, roost_home: Path):
    out, _ = run_program("sdk_limits_retries_map.py", tmp_path, roost_home)
    # memory="200Mi" alone killed the 400 MB task at 200Mi; the flaky task was retried once, then
    # answered from the cache; map ran in its group; flyte.remote read the finished run back.
    assert out["ok"] and out["out"]["oom"] == "200Mi" and out["out"]["squares"] == [1, 4, 9]
    assert out["phase"] == "succeeded"
    assert out["attempts"] == [1, 1, 1, 1, 1, 1, 2]  # main, hoard, flaky (2), the cache hit, 3 squares
    store = RunStore(roost_home / "roost.db")
    try:
        actions = store.list_actions(out["run"])
    finally:
        store.close()
    assert sum(1 for a in actions if a.cache_hit) == 1
    assert {a.isolation for a in actions if a.task_name == "small.hoard"} == {"process"}
