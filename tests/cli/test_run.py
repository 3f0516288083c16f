"""`roost run`: inputs from the task's signature, results, exit codes, the live tree."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import time
from pathlib import Path

from cli_helpers import ROOST, one_error_line, read_store


def test_run_prints_the_result_and_exits_0(roost, prog, home):
    result = roost("run", "--name", "ok1", str(prog), "main", "--n", "4", entry=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "sum=14 note=none"
    assert "ok1" in result.stdout
    store = read_store(home)
    assert store.get_run("ok1").phase.value == "succeeded"
    assert len(store.list_actions("ok1")) == 5


def test_inputs_take_dashes_and_bools_take_an_optional_value(roost, prog):
    flag_alone = roost("run", "--no-live", str(prog), "main", "--loud", "--extra-note", "hi")
    assert flag_alone.returncode == 0, flag_alone.stderr
    assert flag_alone.stdout.splitlines()[-1] == "SUM=5 NOTE=HI"
    flag_false = roost("run", "--no-live", str(prog), "main", "--loud", "false", "--extra_note", "x")
    assert flag_false.stdout.splitlines()[-1] == "sum=5 note=x"


def test_values_are_parsed_by_the_input_types(roost, prog):
    result = roost("run", str(prog), "scale", "--xs", "[1, 2, 3]", "--factor", "2")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "12.0"


def test_module_name_instead_of_a_file(roost, prog):
    result = roost("run", "prog", "main", "--n", "2", entry=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "sum=1 note=none"


def test_a_failing_run_exits_1_with_the_error_code_and_message(roost, prog, home):
    result = roost("run", "--name", "bad1", str(prog), "boom", "--x", "7", entry=True)
    assert result.returncode == 1
    line = one_error_line(result.stderr)
    assert "ValueError" in line and "bad input 7" in line and "bad1" in line
    assert read_store(home).get_run("bad1").phase.value == "failed"


def test_task_help_lists_inputs_with_types_and_defaults(roost, prog, home):
    result = roost("run", str(prog), "main", "--help")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Add the squares of 0..n-1." in out
    for expected in ("--n int", "[default: 3]", "--label str", "[default: 'sum']", "--loud bool", "--extra-note"):
        assert expected in out, out
    required = roost("run", str(prog), "scale", "--help").stdout
    assert "--xs list[int]" in required and "[required]" in required and "[default: 1.5]" in required
    assert read_store(home).list_runs() == []


def test_env_values_are_never_printed(roost, prog):
    secret = "hunter2-do-not-print"
    result = roost("run", "--env", f"TOKEN={secret}", str(prog), "show_env", "--name", "OTHER")
    assert result.returncode == 1
    assert secret not in result.stdout + result.stderr
    misplaced = roost("run", "--env", secret, str(prog), "main")
    assert misplaced.returncode == 2
    assert secret not in one_error_line(misplaced.stderr)


def test_live_tree_on_a_terminal(prog, cli_env, tmp_path: Path):
    """On a terminal the run is drawn as a tree of its actions and their phases."""
    main_fd, child_fd = pty.openpty()
    env = {**cli_env, "COLUMNS": "120", "LINES": "50", "TERM": "xterm"}
    proc = subprocess.Popen(
        [str(ROOST), "run", "--name", "live1", str(prog), "main", "--n", "2"],
        env=env,
        cwd=tmp_path,
        stdin=child_fd,
        stdout=child_fd,
        stderr=child_fd,
    )
    os.close(child_fd)
    chunks = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            data = os.read(main_fd, 65536)
        except OSError:  # the terminal closed: the process has exited
            break
        if not data:
            break
        chunks.append(data)
    os.close(main_fd)
    assert proc.wait(timeout=30) == 0
    screen = b"".join(chunks).decode(errors="replace")
    for expected in ("live1", "group squares", "square", "SUCCEEDED", "sum=1 note=none"):
        assert expected in screen, screen


def test_python_dash_m_runs_the_same_cli(roost):
    result = roost("--help")
    assert result.returncode == 0
    assert all(word in result.stdout for word in ("run", "get", "abort", "rerun"))
    assert sys.executable  # the subprocess used this interpreter
