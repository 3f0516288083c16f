"""`roost run --ray ADDRESS FILE TASK ...`: the CLI runs the program on the cluster."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from roost.store.run_store import RunStore

TASKS = Path(__file__).resolve().parent / "ray_tasks.py"


def test_roost_run_with_ray_runs_every_action_on_the_cluster(ray_head, tmp_path):
    home = tmp_path / "cli-home"
    env = {**os.environ, "ROOST_HOME": str(home)}
    env.pop("RAY_ADDRESS", None)
    command = [sys.executable, "-m", "roost.cli.main", "run", "--ray", ray_head, "--name", "cli-ray", "--no-live"]
    result = subprocess.run(
        [*command, str(TASKS), "fan_out", "--n", "4"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[0, 1, 4, 9]"
    store = RunStore(home / "roost.db")
    try:
        actions = store.list_actions("cli-ray")
        assert len(actions) == 5 and {a.isolation for a in actions} == {"ray"}
        assert all(a.node.startswith("ray node ") for a in actions)
    finally:
        store.close()
    shown = subprocess.run(
        [sys.executable, "-m", "roost.cli.main", "get", "run", "cli-ray"], env=env, capture_output=True, text=True
    )
    assert "ray node" in shown.stdout  # `roost get run` shows where each action ran
