"""Bad usage exits 2 with one line and records no run; an unusable store exits 1 with one line."""

from __future__ import annotations

import pytest
from cli_helpers import one_error_line, read_store

BAD_USAGE = {
    "unknown file": (["run", "{tmp}/nowhere.py", "main"], "nowhere.py"),
    "unknown module": (["run", "no_such_module_here", "main"], "no_such_module_here"),
    "unknown task": (["run", "{prog}", "nope"], "prog.main"),  # the tasks there are listed
    "missing input": (["run", "{prog}", "boom"], "--x"),
    "bad value": (["run", "{prog}", "boom", "--x", "seven"], "seven"),
    "bad bool": (["run", "{prog}", "main", "--loud", "maybe"], "maybe"),
    "bad json": (["run", "{prog}", "scale", "--xs", "[1, oops]"], "--xs"),
    "unknown input": (["run", "{prog}", "boom", "--x", "1", "--y", "2"], "--y"),
    "extra argument": (["run", "{prog}", "boom", "--x", "1", "surplus"], "surplus"),
    "bad run option": (["run", "--max-action-concurrency", "1", "{prog}", "main"], "max_action_concurrency"),
    "bad env": (["run", "--env", "NOEQUALS", "{prog}", "main"], "KEY=VALUE"),
    "no file": (["run"], "FILE"),
}


@pytest.mark.parametrize("case", sorted(BAD_USAGE))
def test_bad_usage_exits_2_with_one_line_and_records_nothing(case, roost, prog, home, tmp_path):
    args, expected = BAD_USAGE[case]
    args = [a.format(prog=prog, tmp=tmp_path) for a in args]
    # The first case goes through the installed console script, the rest through `python -m`.
    result = roost(*args, entry=case == "unknown file")
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert expected in one_error_line(result.stderr)
    assert read_store(home).list_runs() == []


def test_unknown_task_lists_the_tasks(roost, prog):
    line = one_error_line(roost("run", str(prog), "nope").stderr)
    assert all(name in line for name in ("prog.main", "prog.boom", "prog.slow"))


def test_an_existing_run_name_is_refused(roost, prog, home):
    assert roost("run", "--name", "taken", str(prog), "main").returncode == 0
    again = roost("run", "--name", "taken", str(prog), "main", "--n", "9")
    assert again.returncode == 2
    assert "taken" in one_error_line(again.stderr)
    assert len(read_store(home).list_runs()) == 1


def test_a_corrupt_store_is_one_clear_line(roost, prog, home):
    home.mkdir()
    (home / "roost.db").write_bytes(b"this is not a database, just garbage " * 200)
    for args in (["get", "runs"], ["run", str(prog), "main"], ["get", "run", "x"], ["abort", "x"]):
        result = roost(*args, entry=args[0] == "get")
        assert result.returncode == 1, (args, result.stderr)
        line = one_error_line(result.stderr)
        assert str(home / "roost.db") in line and "corrupt" in line
        assert "sqlite" not in line.lower()


@pytest.mark.parametrize("args", [["get", "run", "ghost"], ["get", "logs", "ghost"], ["abort", "ghost"]])
def test_an_unknown_run_exits_1(args, roost):
    result = roost(*args)
    assert result.returncode == 1
    assert "ghost" in one_error_line(result.stderr)
