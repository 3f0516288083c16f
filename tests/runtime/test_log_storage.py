"""Captured output is stored compressed once it comes in bulk, and reads back line for line as it was
printed; rows stored one line each (as before chunks existed) still read as they did."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

from roost.store.records import LogRecord
from roost.store.run_store import RunStore
from roost.store.run_tables import LOG_INSERT, log_rows

PROGRAM = textwrap.dedent(
    """
    import sys
    import roost as flyte

    env = flyte.TaskEnvironment(name="chatty")

    @env.task
    def chatty(lines: int) -> int:
        for i in range(lines):
            print(f"line {i:07d} of the output of a task that prints a great deal, much like a training loop")
            if i % 1000 == 0:
                print(f"warning at {i}", file=sys.stderr)
        return lines
    """
)
LINES = 100_000


def _cli(home: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "roost.cli.main", *args],
        env={**os.environ, "ROOST_HOME": str(home)},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_bulk_output_is_stored_compressed_and_reads_back_unchanged(tmp_path: Path) -> None:
    home = tmp_path / "home"
    script = tmp_path / "chatty.py"
    script.write_text(PROGRAM)
    run = _cli(home, tmp_path, "run", "--no-live", "--name", "chatty", str(script), "chatty", "--lines", str(LINES))
    assert run.returncode == 0, run.stderr[-2000:]
    printed = [line for line in run.stdout.splitlines() if line.startswith("line ")]
    assert len(printed) == LINES
    printed_bytes = sum(len(line) + 1 for line in printed)
    # Stored line by line, the output took more room than it has; compressed, a small part of it.
    store_bytes = sum(p.stat().st_size for p in home.glob("roost.db*"))
    assert store_bytes < printed_bytes / 5, (store_bytes, printed_bytes)

    logs = _cli(home, tmp_path, "get", "logs", "chatty", "a0")
    assert logs.returncode == 0, logs.stderr
    expected = []
    for i in range(LINES):
        expected.append(printed[i])
        if i % 1000 == 0:
            expected.append(f"warning at {i}")
    shown = logs.stdout.splitlines()
    assert sorted(shown) == sorted(expected)
    assert [line for line in shown if line.startswith("line ")] == printed
    every = _cli(home, tmp_path, "get", "logs", "chatty").stdout.splitlines()
    assert [line for line in every if line.startswith("[a0] line ")] == [f"[a0] {line}" for line in printed]


def test_rows_of_single_lines_still_read(tmp_path: Path) -> None:
    path = tmp_path / "roost.db"
    RunStore(path).close()
    conn = sqlite3.connect(path)
    with conn:  # as roost wrote every line before chunks existed
        conn.executemany(LOG_INSERT, [("old", "a0", 0, 1.0 + i, "stdout", f"old line {i}") for i in range(3)])
    conn.close()
    store = RunStore(path, readonly=True)
    try:
        assert [g.line for g in store.list_logs("old")] == ["old line 0", "old line 1", "old line 2"]
    finally:
        store.close()


def test_chunks_keep_the_order_across_actions_and_streams(tmp_path: Path) -> None:
    records = []
    for i in range(400):
        action, stream = ("a1", "stdout") if i % 97 else ("a2", "stderr")
        records.append(LogRecord("r", action, 0, float(i), stream, f"{action} {stream} {i} " + "x" * 40))
    records.insert(50, LogRecord("r", "a1", 0, 49.5, "stdout", "a line\nwith a break"))
    rows = log_rows(records)
    assert any(isinstance(row[5], bytes) for row in rows)
    store = RunStore(tmp_path / "roost.db")
    try:
        conn = store.connection()
        conn.executemany(LOG_INSERT, rows)
        back = store.list_logs("r")
        assert [(g.action_id, g.stream, g.line) for g in back] == [(g.action_id, g.stream, g.line) for g in records]
        assert [g.line for g in store.list_logs("r", "a2")] == [g.line for g in records if g.action_id == "a2"]
    finally:
        store.close()
