"""Shared by the CLI tests: the program they run, the entry point, reading the store, the error contract."""

from __future__ import annotations

import sys
import textwrap
import time
from pathlib import Path

from roost.store.records import RunRecord
from roost.store.run_store import RunStore

# The console script installed next to this interpreter: the real `roost` entry point.
ROOST = Path(sys.executable).parent / "roost"

PROGRAM = textwrap.dedent(
    '''
    import asyncio
    import os
    import roost as flyte

    env = flyte.TaskEnvironment(name="prog")


    @env.task
    async def square(x: int) -> int:
        print(f"squaring {x}")
        return x * x


    @env.task
    async def main(n: int = 3, label: str = "sum", loud: bool = False, extra_note: str = "none") -> str:
        """Add the squares of 0..n-1."""
        with flyte.group("squares"):
            values = await asyncio.gather(*(square(i) for i in range(n)))
        text = f"{label}={sum(values)} note={extra_note}"
        return text.upper() if loud else text


    @env.task
    async def scale(xs: list[int], factor: float = 1.5) -> float:
        return sum(xs) * factor


    @env.task
    async def boom(x: int) -> int:
        raise ValueError(f"bad input {x}")


    @env.task
    async def show_env(name: str) -> str:
        raise RuntimeError("cannot show " + name + " " + os.environ.get(name, "unset"))


    @env.task
    async def slow(seconds: float = 60.0) -> int:
        await asyncio.sleep(seconds)
        return 1


    @env.task
    async def gate(path: str) -> str:
        while not os.path.exists(path):
            await asyncio.sleep(0.05)
        return "open"


    @env.task
    async def resumable(path: str) -> str:
        firsts = await asyncio.gather(*(square(i) for i in range(3)))
        return f"{sum(firsts)}-{await gate(path)}"
    '''
)


def read_store(home: Path) -> RunStore:
    """A reader of the test's store that creates nothing (so an absent store stays absent)."""
    return RunStore(home / "roost.db", readonly=True)


def wait_for_phase(home: Path, name: str, phase: str, timeout: float = 15) -> RunRecord:
    store = read_store(home)
    deadline = time.monotonic() + timeout
    record = None
    try:
        while time.monotonic() < deadline:
            record = store.get_run(name)
            if record is not None and record.phase.value == phase:
                return record
            time.sleep(0.05)
    finally:
        store.close()
    raise AssertionError(f"run {name} did not reach {phase} within {timeout} s (last: {record})")


def one_error_line(stderr: str) -> str:
    """The CLI's contract for expected failures: exactly one line, no traceback."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    assert lines[0].startswith("Error: "), stderr
    return lines[0]
