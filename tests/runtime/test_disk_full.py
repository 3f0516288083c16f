"""A run whose store fills its disk: ROOST_HOME on a real 20 MB tmpfs, filled by the run itself.

The run must say what failed and why in one line (no space left on device, the store's path), start
no new actions, fail, and be recorded failed -- by its own process when the disk frees up while it
lives, else by the next roost command.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

PROGRAM = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    import roost as flyte

    env = flyte.TaskEnvironment(name="full")
    FILLER, MARKS = sys.argv[2], Path(sys.argv[3])

    @env.task
    def fill() -> int:
        blocks = 0
        try:
            with open(FILLER, "wb") as f:
                while True:
                    f.write(b"x" * 65536)
                    f.flush()
                    blocks += 1
        except OSError:
            pass
        return blocks

    @env.task
    def step(i: int) -> str:
        (MARKS / str(i)).touch()
        time.sleep(0.05)
        return "y" * 4000 + str(i)

    @env.task
    async def main() -> int:
        await fill.aio()
        done = [await step.aio(i) for i in range(70)]
        return len(done)

    if __name__ == "__main__":
        try:
            flyte.with_runcontext(name="full").run(main)
            print("FINISHED", flush=True)
        except Exception as e:
            print("ERROR", type(e).__name__, e, flush=True)
        if sys.argv[1] == "free":
            os.remove(FILLER)  # the disk frees up while the process still lives
            time.sleep(3)
    """
)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=20m", "tmpfs", str(mount)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def _launch(tmp_path: Path, home: Path, mode: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "prog.py").write_text(PROGRAM)
    marks = tmp_path / "marks"
    marks.mkdir(exist_ok=True)
    env = {**os.environ, "ROOST_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "prog.py", mode, str(home / "filler"), str(marks)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _phase(home: Path) -> tuple[str, str | None]:
    db = sqlite3.connect(home / "roost.db")
    try:
        return db.execute("SELECT phase, error_message FROM runs WHERE name = 'full'").fetchone()  # type: ignore[no-any-return]
    finally:
        db.close()


def _said_why(result: subprocess.CompletedProcess[str], home: Path) -> None:
    output = result.stdout + result.stderr
    assert "cannot rollback" not in output, output[-2000:]
    error = [line for line in result.stdout.splitlines() if line.startswith("ERROR")]
    assert error, output[-2000:]
    assert "StoreError" in error[0] and "no space left on device (ENOSPC)" in error[0], error[0]
    assert str(home / "roost.db") in error[0]
    assert "Traceback" not in result.stderr, result.stderr[-2000:]


def test_a_full_disk_fails_the_run_and_it_is_recorded_when_space_returns(tmp_path: Path, small_disk: Path) -> None:
    home = small_disk / "home"
    result = _launch(tmp_path, home, "free")
    _said_why(result, home)
    # No new actions after the failure: far fewer than the 70 steps ran.
    assert len(list((tmp_path / "marks").iterdir())) < 20
    phase, message = _phase(home)
    assert phase == "failed" and "no space left on device" in (message or "")
    assert not list((home / "store-failures").iterdir())


def test_a_run_stopped_by_a_full_disk_is_recorded_failed_by_the_next_command(tmp_path: Path, small_disk: Path) -> None:
    home = small_disk / "home"
    result = _launch(tmp_path, home, "keep")
    _said_why(result, home)
    (home / "filler").unlink()
    assert _phase(home)[0] != "failed"  # its process could not record it
    env = {**os.environ, "ROOST_HOME": str(home)}
    shown = subprocess.run(
        [sys.executable, "-m", "roost.cli.main", "get", "runs"], env=env, capture_output=True, text=True, timeout=60
    )
    assert shown.returncode == 0, shown.stderr
    phase, message = _phase(home)
    assert phase == "failed" and "no space left on device" in (message or "")
    assert "failed" in shown.stdout.lower()
    integrity = sqlite3.connect(home / "roost.db").execute("pragma integrity_check").fetchone()[0]
    assert integrity == "ok"
