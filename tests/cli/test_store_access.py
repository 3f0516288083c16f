"""The CLI on stores and inputs it cannot use as they are: one clear line, never a traceback, and a
reading command neither needs write access nor creates anything. Run names that would become paths
outside ROOST_HOME are refused, and a name taken by a run started at the same moment exits 2."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import one_error_line, read_store

import roost

NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
# Commands run from "/" (another user cannot enter pytest's folders): they find the roost under test
# by an absolute path.
SOURCE = str(Path(roost.__file__).resolve().parent.parent)


def _env(home: Path | str, **extra: str) -> dict[str, str]:
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "ROOST_HOME": str(home), "PYTHONPATH": SOURCE + (os.pathsep + path if path else ""), **extra}


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder another user can reach (pytest's own temporary folders are private to root)."""
    path = Path(tempfile.mkdtemp(prefix="roost-access-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _as_nobody(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*NOBODY, sys.executable, "-m", "roost.cli.main", *args],
        env=_env(home),
        cwd="/",
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def nobody() -> None:
    """Tests run as root, who may write anything: these need a user who may not."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to run a command as the user nobody")
    probe = subprocess.run(
        [*NOBODY, sys.executable, "-c", "import roost.cli.main"], env=_env("/nonexistent"), capture_output=True, cwd="/"
    )
    if probe.returncode != 0:
        pytest.skip(f"the user nobody cannot run this Python: {probe.stderr.decode()[-200:]}")


def test_reading_commands_work_on_a_store_the_user_cannot_write(nobody, roost, prog, shared_dir):
    home = shared_dir / "home"
    done = subprocess.run(
        [sys.executable, "-m", "roost.cli.main", "run", "--name", "kept", str(prog), "main"],
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    # The last connection folded its write-ahead log in: the database file is all there is.
    assert sorted(p.name for p in home.glob("roost.db*")) == ["roost.db"]
    for path in [shared_dir, *shared_dir.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)  # readable by all, writable by root only
    before = sorted(p.name for p in home.iterdir())
    for args in (["get", "runs"], ["get", "run", "kept"], ["get", "logs", "kept"], ["cache", "list"]):
        result = _as_nobody(home, *args)
        assert result.returncode == 0, (args, result.stderr)
        assert "Traceback" not in result.stderr and "readonly" not in result.stderr
    assert "kept" in _as_nobody(home, "get", "runs").stdout
    assert "squaring 2" in _as_nobody(home, "get", "logs", "kept").stdout
    assert sorted(p.name for p in home.iterdir()) == before
    # Writing still needs write access, and says so in one line.
    cleared = _as_nobody(home, "cache", "clear")
    assert cleared.returncode == 1
    assert "readonly" in one_error_line(cleared.stderr)


def test_secret_commands_on_an_unreadable_home(nobody, shared_dir):
    home = shared_dir / "home"
    (home / "secrets").mkdir(parents=True)
    (home / "secrets" / "secrets.json").write_text("{}")
    home.chmod(0o700)  # root's own
    for args in (["secret", "list"], ["secret", "create", "K", "--value", "v"], ["secret", "delete", "K"]):
        result = _as_nobody(home, *args)
        assert result.returncode == 1, (args, result.stderr)
        line = one_error_line(result.stderr)
        assert "secret store cannot be used: Permission denied" in line, line


def test_reading_commands_create_nothing(roost, tmp_path):
    home = tmp_path / "no" / "such" / "home"
    for args in (["get", "runs"], ["get", "runs", "--json"], ["cache", "list"]):
        result = subprocess.run(
            [sys.executable, "-m", "roost.cli.main", *args],
            env=_env(home),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, (args, result.stderr)
    missing = roost("get", "run", "ghost")  # the fixture's home does not exist either
    assert missing.returncode == 1 and "ghost" in one_error_line(missing.stderr)
    assert not (tmp_path / "no").exists()
    assert not (tmp_path / "home").exists()


@pytest.mark.parametrize("args", [["get", "runs"], ["secret", "list"], ["run", "{prog}", "main"]])
def test_an_empty_roost_home_is_refused(args, prog, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "roost.cli.main", *[a.format(prog=prog) for a in args]],
        env=_env("", HOME=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stderr
    assert "ROOST_HOME is set but empty" in one_error_line(result.stderr)
    assert not (tmp_path / ".roost").exists()


# 50,000 levels stop Python's JSON parser; 900 pass it and stop the type engine converting the value.
@pytest.mark.parametrize(("depth", "typed"), [(50_000, True), (50_000, False), (900, False)])
def test_deeply_nested_json_input_is_one_line(home, tmp_path, depth, typed):
    nested = "[" * depth + "]" * depth
    script = tmp_path / "deep.py"
    script.write_text(
        "import roost as flyte\nenv = flyte.TaskEnvironment(name='deep')\n\n"
        "@env.task\nasync def take(xs: list[int], d: dict) -> int:\n    return 1\n"
    )
    args = ["--xs", nested, "--d", "{}"] if typed else ["--xs", "[]", "--d", '{"a": ' + nested + "}"]
    result = subprocess.run(
        [sys.executable, "-m", "roost.cli.main", "run", str(script), "take", *args],
        env=_env(home),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert "nested too deeply" in one_error_line(result.stderr)
    assert read_store(home).list_runs() == []


@pytest.mark.parametrize("name", ["../../escaped", "/tmp/abs-run", "UPPER", ".hidden"])
def test_a_run_name_that_is_no_plain_name_is_refused(roost, prog, home, tmp_path, name):
    result = roost("run", "--name", name, str(prog), "main")
    assert result.returncode == 2, result.stderr
    line = one_error_line(result.stderr)
    assert "invalid run name" in line and "lowercase letters, digits" in line
    assert read_store(home).list_runs() == []
    assert not (tmp_path.parent / "escaped").exists() and not Path("/tmp/abs-run").exists()


def test_rerun_to_a_bad_name_is_refused(roost, prog, home):
    assert roost("run", "--name", "source", str(prog), "main").returncode == 0
    result = roost("rerun", "source", "--recover", "--name", "../up")
    assert result.returncode == 2, result.stderr
    assert "invalid run name" in one_error_line(result.stderr)
    assert [r.name for r in read_store(home).list_runs()] == ["source"]


def test_runs_started_with_one_name_at_once(start_roost, prog, home):
    procs = [start_roost("run", "--no-live", "--name", "same", str(prog), "main", "--n", str(n)) for n in (2, 3, 4)]
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    won = [r for r in results if r[0] == 0]
    lost = [r for r in results if r[0] != 0]
    assert len(won) == 1, results
    for code, _, err in lost:
        assert code == 2
        assert "a run named 'same' already exists" in one_error_line(err)
    store = read_store(home)
    assert [r.name for r in store.list_runs()] == ["same"]
    n = {"sum=1 ": 2, "sum=5 ": 3, "sum=14": 4}[won[0][1].splitlines()[-1][:6]]
    assert len(store.list_actions("same")) == n + 1
