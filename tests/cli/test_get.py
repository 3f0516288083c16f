"""`roost get runs | run | logs` show what a run recorded."""

from __future__ import annotations

import pytest
from cli_helpers import read_store


@pytest.fixture
def recorded(roost, prog):
    """Two runs: one that succeeded (with a group of children that print) and one that failed."""
    assert roost("run", "--name", "good", str(prog), "main", "--n", "2").returncode == 0
    assert roost("run", "--name", "broken", str(prog), "boom", "--x", "3").returncode == 1


def test_get_runs_lists_runs_newest_first(roost, recorded):
    result = roost("get", "runs", entry=True)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["name", "task", "phase", "started", "duration", "mode"]
    assert lines[1].split()[:3] == ["broken", "prog.boom", "FAILED"]
    assert lines[2].split()[:3] == ["good", "prog.main", "SUCCEEDED"]
    assert lines[1].split()[-1] == "local"


def test_get_runs_filters(roost, recorded):
    failed = roost("get", "runs", "--phase", "failed").stdout
    assert "broken" in failed and "good" not in failed
    by_task = roost("get", "runs", "--task", "main").stdout  # a short name matches too
    assert "good" in by_task and "broken" not in by_task
    assert len(roost("get", "runs", "--limit", "1").stdout.splitlines()) == 2


def test_get_run_shows_the_action_tree(roost, recorded, home):
    result = roost("get", "run", "good")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "good" in out and "prog.main" in out and "SUCCEEDED" in out
    assert "group squares" in out
    children = [a for a in read_store(home).list_actions("good") if a.parent_id == "a0"]
    assert len(children) == 2
    for child in children:
        assert child.action_id[:8] in out
    tree = out[out.index("main  a0") :]
    assert tree.count("square  ") == 2
    assert "attempts 1" in tree and "inline" in tree


def test_get_run_of_a_failed_run_shows_its_error(roost, recorded):
    out = roost("get", "run", "broken").stdout
    assert "FAILED" in out
    assert "ValueError" in out and "bad input 3" in out
    assert 'raise ValueError(f"bad input {x}")' in out  # the user's line of the traceback
    assert "runtime/engine/run_controller.py" not in out  # roost's own frames are left out


def test_get_logs_of_a_run_and_of_one_action(roost, recorded, home):
    whole = roost("get", "logs", "good")
    assert whole.returncode == 0, whole.stderr
    children = sorted((a for a in read_store(home).list_actions("good") if a.parent_id == "a0"), key=lambda a: a.seq)
    lines = whole.stdout.splitlines()
    assert f"[{children[0].action_id[:8]}] squaring 0" in lines
    assert f"[{children[1].action_id[:8]}] squaring 1" in lines
    one = roost("get", "logs", "good", children[1].action_id[:10])  # a prefix of the id is enough
    assert one.returncode == 0, one.stderr
    assert one.stdout.splitlines() == ["squaring 1"]
    missing = roost("get", "logs", "good", "zzzz")
    assert missing.returncode == 1


REPORTING = """
import roost as flyte

env = flyte.TaskEnvironment(name="rep")


@env.task(report=True)
async def leaf(x: int) -> int:
    flyte.report.log(f"<p>leaf {x}</p>")
    return x


@env.task
async def main() -> int:
    return await leaf(1) + await leaf(2)


@env.task
async def quiet() -> int:
    flyte.report.log("<p>logged but never written</p>")
    return 0
"""


def test_get_run_lists_the_reports_written(roost, home, tmp_path):
    program = tmp_path / "reporting.py"
    program.write_text(REPORTING)
    assert roost("run", "--name", "rep", str(program), "main").returncode == 0
    out = roost("get", "run", "rep").stdout
    leaves = sorted((a for a in read_store(home).list_actions("rep") if a.parent_id == "a0"), key=lambda a: a.seq)
    section = out[out.index("Reports:") :].splitlines()[1:3]
    assert [line.split() for line in section] == [
        [leaf.action_id[:8], str(home / "runs" / "rep" / leaf.action_id / "report.html")] for leaf in leaves
    ]
    assert roost("run", "--name", "quiet", str(program), "quiet").returncode == 0
    assert "Reports:" not in roost("get", "run", "quiet").stdout


def test_get_run_and_runs_as_json_for_scripts(roost, recorded):
    import json

    runs = json.loads(roost("get", "runs", "--json").stdout)
    assert [(r["name"], r["phase"]) for r in runs] == [("broken", "failed"), ("good", "succeeded")]
    assert runs[0]["error"]["code"] == "ValueError" and runs[0]["controller_gone"] is False
    good = json.loads(roost("get", "run", "good", "--json").stdout)
    assert good["task"] == "prog.main" and good["phase"] == "succeeded"
    ids = {a["id"] for a in good["actions"]}
    assert "a0" in ids and len(good["actions"]) == 3
    children = [a for a in good["actions"] if a["parent"] == "a0"]
    assert {a["group"] for a in children} == {"squares"} and all(a["isolation"] == "inline" for a in children)
    assert all(a["attempts"] == 1 and a["started_at"] <= a["ended_at"] for a in good["actions"])
    broken = json.loads(roost("get", "run", "broken", "--json").stdout)
    assert broken["actions"][0]["error"]["message"] == "bad input 3"
    assert json.loads(roost("get", "runs", "--json", "--phase", "aborted").stdout) == []
