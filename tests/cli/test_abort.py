"""Ending runs from outside: `roost abort`, Ctrl-C, a killed controller, `roost rerun --recover`."""

from __future__ import annotations

import signal
import time

from cli_helpers import one_error_line, read_store, wait_for_phase


def test_abort_a_running_run_from_another_process(roost, start_roost, prog, home):
    proc = start_roost("run", "--name", "long", str(prog), "slow")
    wait_for_phase(home, "long", "running")
    result = roost("abort", "long", "--wait", entry=True)
    assert result.returncode == 0, result.stderr
    assert "aborted" in result.stdout
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 1
    assert "long was aborted" in one_error_line(err)
    record = read_store(home).get_run("long")
    assert record.phase.value == "aborted"
    assert [a.phase.value for a in read_store(home).list_actions("long")] == ["aborted"]
    again = roost("abort", "long")
    assert again.returncode == 1
    assert "already finished" in one_error_line(again.stderr)


def test_ctrl_c_aborts_the_run_and_exits_130(start_roost, prog, home):
    proc = start_roost("run", "--name", "interrupted", str(prog), "slow")
    wait_for_phase(home, "interrupted", "running")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert read_store(home).get_run("interrupted").phase.value == "aborted"


def test_a_killed_controller_shows_and_resumes(roost, start_roost, prog, home, tmp_path):
    """kill -9 of `roost run`: `get runs` says the controller is gone; `rerun --recover` reuses the
    children that had succeeded and finishes the run."""
    gate = tmp_path / "gate-open"
    # A module name (not a file path) so that another process can import the task again.
    proc = start_roost("run", "--name", "dies", "prog", "resumable", "--path", str(gate))
    wait_for_phase(home, "dies", "running")
    store = read_store(home)
    deadline = time.monotonic() + 15
    while sum(a.phase.value == "succeeded" for a in store.list_actions("dies")) < 3:
        assert time.monotonic() < deadline, "the first children never succeeded"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    listing = roost("get", "runs").stdout
    assert "running (controller gone)" in listing
    assert "controller gone" in roost("get", "run", "dies").stdout

    gate.touch()
    resumed = roost("rerun", "dies", "--recover", "--name", "resumed", entry=True)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.splitlines()[-1] == "5-open"
    phases = sorted(a.phase.value for a in store.list_actions("resumed") if a.short_name == "square")
    assert phases == ["recovered"] * 3
    assert store.get_run("resumed").recovered_from == "dies"


def test_abort_of_a_run_whose_controller_died_records_it(roost, start_roost, prog, home):
    proc = start_roost("run", "--name", "orphan", str(prog), "slow")
    wait_for_phase(home, "orphan", "running")
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    result = roost("abort", "orphan")
    assert result.returncode == 0, result.stderr
    assert read_store(home).get_run("orphan").phase.value == "aborted"
    assert "controller gone" not in roost("get", "runs").stdout
