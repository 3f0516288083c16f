"""`roost cache list | clear`, and a cache hit as `roost get run` shows it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import roost as flyte

env = flyte.TaskEnvironment(name="clicache")


@env.task(cache="auto")
async def inc(x: int) -> int:
    return x + 1


@env.task(cache=flyte.Cache("override", version_override="release-42"))
async def dec(x: int) -> int:
    return x - 1


@env.task
async def both(x: int) -> int:
    return await inc(x) + await dec(x)


@pytest.fixture
def roost(roost_home: Path, tmp_path: Path):
    """The CLI as a process of its own, reading the test's store."""

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        env_vars = {**os.environ, "ROOST_HOME": str(roost_home)}
        return subprocess.run(
            [sys.executable, "-m", "roost.cli.main", *args],
            env=env_vars,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=30,
        )

    return run


def test_get_run_shows_a_cache_hit(roost):
    flyte.with_runcontext(name="first").run(both, 1)
    flyte.with_runcontext(name="second").run(both, 1)
    first = roost("get", "run", "first")
    second = roost("get", "run", "second")
    assert first.returncode == second.returncode == 0, second.stderr
    assert "cache hit" not in first.stdout
    hits = [line for line in second.stdout.splitlines() if "cache hit" in line]
    assert len(hits) == 2 and any("inc" in h for h in hits) and any("dec" in h for h in hits)


def test_list_and_clear(roost):
    flyte.with_runcontext(name="filler").run(both, 1)
    flyte.run(both, 2)
    listing = roost("cache", "list")
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert lines[0].split() == ["key", "task", "version", "created", "produced", "by"]
    assert len(lines) == 5
    assert sum("clicache.inc" in line for line in lines) == 2
    assert sum("release-42" in line for line in lines) == 2
    assert any("filler/" in line for line in lines)

    only = roost("cache", "list", "--task", "dec").stdout.splitlines()  # a short name works
    assert len(only) == 3 and all("clicache.inc" not in line for line in only)

    cleared = roost("cache", "clear", "clicache.dec")
    assert cleared.returncode == 0 and cleared.stdout.strip() == "Removed 2 cache entries of clicache.dec."
    assert roost("cache", "clear").stdout.strip() == "Removed 2 cache entries."
    empty = roost("cache", "list")
    assert empty.returncode == 0 and empty.stdout == "" and "No cached results" in empty.stderr


def test_cleared_entries_run_again(roost):
    calls = []

    @env.task(cache="auto")
    async def traced(x: int) -> int:
        calls.append(x)
        return x

    flyte.run(traced, 1)
    flyte.run(traced, 1)
    assert roost("cache", "clear", "traced").stdout.strip() == "Removed 1 cache entry of traced."
    flyte.run(traced, 1)
    assert calls == [1, 1]
