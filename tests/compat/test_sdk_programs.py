"""More Flyte-style programs (tests/compat/programs/sdk_*.py), each run as a script: checkpoints, a
reusable environment, flyte.map and flyte.group, reports, and secrets with env vars. Each program
asserts on its own results and prints one JSON line; these tests check it and the run store."""

from __future__ import annotations

import hmac
import os
import subprocess
import sys
from pathlib import Path

import pytest

from roost.store.run_store import RunStore

from .test_programs import SRC, run_program


def actions_of(home: Path, run: str) -> list:
    store = RunStore(home / "roost.db")
    try:
        return store.list_actions(run)
    finally:
        store.close()


def test_checkpoints_resume_a_sync_and_an_async_retry(tmp_path: Path, roost_home: Path):
    out, _ = run_program("sdk_checkpoints.py", tmp_path, roost_home)
    # Both tasks failed once after their third step and resumed from the checkpoint of that step.
    assert out["out"] == {"tally": {"letters": 16, "resumed_at": 3}, "train": {"loss": 0.03125, "resumed_at": 3}}
    assert out["attempts"] == [1, 2, 2]
    actions = {a.task_name: a for a in actions_of(roost_home, out["run"])}
    for name in ("checkpointed.tally", "checkpointed.train"):
        folder = roost_home / "runs" / out["run"] / actions[name].action_id
        assert sorted(p.name for p in folder.glob("checkpoint-*")) == ["checkpoint-0", "checkpoint-1"]
    assert (folder / "checkpoint-1" / "checkpoints" / "last.ckpt").read_text() == '{"epoch": 5, "loss": 0.03125}'


def test_a_reusable_environment_keeps_its_module_state_between_calls(tmp_path: Path, roost_home: Path):
    out, _ = run_program("sdk_reusable_env.py", tmp_path, roost_home)
    # 24 calls fanned out to at most two warm replicas; each loaded its model once and counted on.
    assert out["calls"] == 24 and out["replicas"] in (1, 2) and sum(out["served"]) == 24
    scored = [a for a in actions_of(roost_home, out["run"]) if a.task_name == "sentiment.score"]
    assert len(scored) == 24 and {a.isolation for a in scored} == {"pool"}


def test_map_from_sync_and_async_code_and_a_group(tmp_path: Path, roost_home: Path):
    out, _ = run_program("sdk_map_group.py", tmp_path, roost_home)
    assert out["out"]["prices"] == [8.75, 10.0, 10.0] and out["out"]["restocked"] == [11.25, 12.5]
    groups: dict[str, list[str | None]] = {}
    for a in actions_of(roost_home, out["run"]):
        groups.setdefault(a.task_name, []).append(a.group_name)
    assert groups["catalog.normalise"] == ["catalog.normalise_map"] * 3
    assert sorted(groups["catalog.price"], key=str) == ["catalog.price_map"] * 3 + ["restock"] * 2
    assert groups["catalog.clean"] == [None]


def test_reports_are_read_back_by_the_program(tmp_path: Path, roost_home: Path):
    out, _ = run_program("sdk_report.py", tmp_path, roost_home)
    assert out["pages"] == 3 and out["root_bytes"] > 0  # the root's page and one per profiled column


def test_secrets_and_env_vars_reach_their_task_and_never_the_run_store(
    tmp_path: Path, roost_home: Path, monkeypatch: pytest.MonkeyPatch
):
    token, key = "wh-0c7e1d-token-value", "sk-f00d-signing-value"
    env = dict(os.environ, ROOST_HOME=str(roost_home), PYTHONPATH=str(SRC))
    created = subprocess.run(
        [sys.executable, "-m", "roost.cli.main", "secret", "create", "signing-key"],
        input=key + "\n",
        env=env,
        capture_output=True,
        text=True,
    )
    assert created.returncode == 0, created.stderr
    monkeypatch.setenv("WAREHOUSE_TOKEN", token)  # the environment fallback, as a CI job passes it
    out, stderr = run_program("sdk_secrets_env_vars.py", tmp_path, roost_home)
    assert out["signature"] == hmac.new(key.encode(), out["target"].encode(), "sha256").hexdigest()
    logs = subprocess.run(
        [sys.executable, "-m", "roost.cli.main", "get", "logs", out["run"]], env=env, capture_output=True, text=True
    )
    shown = subprocess.run(
        [sys.executable, "-m", "roost.cli.main", "get", "run", out["run"]], env=env, capture_output=True, text=True
    )
    assert logs.returncode == 0 and shown.returncode == 0, logs.stderr + shown.stderr
    assert "with a token of 21 characters" in logs.stdout and "at level full" in logs.stdout
    stored = b"".join(p.read_bytes() for p in roost_home.glob("roost.db*"))
    for value in (token, key):
        assert value not in logs.stdout + shown.stdout + stderr
        assert value.encode() not in stored
