"""Small Flyte 2 programs of the type engine's surface, each run as its own process (and one from the
CLI), as a user would run them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROGRAMS = Path(__file__).resolve().parent / "programs"
TYPE_PROGRAMS = sorted(PROGRAMS.glob("types_*.py"))


def _run(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ROOST_HOME": str(tmp_path / "home")}  # never the user's ~/.roost
    return subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=240, env=env)


def test_there_are_type_programs():
    assert len(TYPE_PROGRAMS) >= 7


@pytest.mark.parametrize("path", TYPE_PROGRAMS, ids=[p.stem for p in TYPE_PROGRAMS])
def test_type_program_runs(path, tmp_path):
    result = _run([sys.executable, str(path)], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip(), "a program should say what it did"


def test_any_values_warn_once_per_task_however_many_calls(tmp_path):
    result = _run([sys.executable, str(PROGRAMS / "types_any_values.py")], tmp_path)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if "pickled" in line]
    # one task has Any values: one line, although it was called five times in five worker processes
    assert len(lines) == 1, result.stderr
    assert "any_values.identity" in lines[0]


def test_cli_takes_json_for_dataclass_and_pydantic_inputs(tmp_path):
    program = str(PROGRAMS / "types_dict_inputs.py")
    roost = [sys.executable, "-m", "roost.cli.main"]
    ok = _run([*roost, "run", program, "plan", "--query", '{"table": "t", "window": {"start": 2, "end": 4}}'], tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "select * from t [2,4)" in ok.stdout
    ok = _run(
        [*roost, "run", program, "greet", "--reader", '{"name": "bo", "windows": [{"start": 1, "end": 2}]}'], tmp_path
    )
    assert ok.returncode == 0 and "bo:1" in ok.stdout, ok.stdout + ok.stderr
    bad = _run([*roost, "run", program, "plan", "--query", '{"table": "t", "window": {"start": 2}}'], tmp_path)
    assert bad.returncode == 2 and "end" in bad.stderr and "Traceback" not in bad.stderr, bad.stderr
