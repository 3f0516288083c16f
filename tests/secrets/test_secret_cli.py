"""`roost secret create | list | delete` as real processes: values in, names out, never a value echoed."""

from __future__ import annotations

import os
import pty
import select
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from roost.store.secret_store import SecretStore

VALUE = "cli-s3cr3t-9f8e7d"
OTHER = "second-s3cr3t-1a2b3c"
SECRET_VALUES = (VALUE, OTHER)
COMMAND = [sys.executable, "-m", "roost.cli.main", "secret"]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["ROOST_HOME"] = str(home)
    return env


@pytest.fixture
def secret(env: dict[str, str], tmp_path: Path):
    """``secret(*args, stdin=...)``: the CLI, checking that no value ever appears in what it prints."""

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [*COMMAND, *args], input=stdin, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
        for value in SECRET_VALUES:
            assert value not in result.stdout, f"value echoed on stdout of {args}"
            assert value not in result.stderr, f"value echoed on stderr of {args}"
        assert "Traceback" not in result.stderr
        return result

    return run


def stored(home: Path) -> SecretStore:
    return SecretStore(home, backend="file")


def test_create_reads_the_value_from_stdin(secret, home: Path) -> None:
    result = secret("create", "api-token", stdin=VALUE + "\n")
    assert result.returncode == 0, result.stderr
    assert "Created secret api-token" in result.stdout
    assert stored(home).get("api-token") == VALUE  # exactly one trailing newline stripped
    path = home / "secrets" / "secrets.json"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700


def test_create_with_a_group_and_with_value(secret, home: Path) -> None:
    assert secret("create", "token", "--group", "ext-svc", stdin=OTHER).returncode == 0
    result = secret("create", "plain", "--value", VALUE)
    assert result.returncode == 0, result.stderr
    assert stored(home).get("token", "ext-svc") == OTHER
    assert stored(home).get("plain") == VALUE


def test_only_one_trailing_newline_is_stripped(secret, home: Path) -> None:
    assert secret("create", "a", stdin=VALUE + "\n\n").returncode == 0
    assert stored(home).get("a") == VALUE + "\n"
    assert secret("create", "b", stdin=VALUE + "\r\n").returncode == 0
    assert stored(home).get("b") == VALUE
    assert secret("create", "c", stdin="line1\nline2").returncode == 0
    assert stored(home).get("c") == "line1\nline2"


def test_create_replaces_and_says_so(secret, home: Path) -> None:
    secret("create", "k", stdin=VALUE)
    result = secret("create", "k", stdin=OTHER)
    assert result.returncode == 0
    assert "Replaced secret k" in result.stdout
    assert stored(home).get("k") == OTHER


def test_an_empty_value_is_refused(secret, home: Path) -> None:
    result = secret("create", "k", stdin="\n")
    assert result.returncode == 2
    assert "empty" in result.stderr
    assert stored(home).list() == []


def test_a_bad_key_is_a_usage_error(secret) -> None:
    result = secret("create", "a/b", stdin=VALUE)
    assert result.returncode == 2
    assert "a/b" in result.stderr


def test_list_shows_names_and_groups_only(secret) -> None:
    empty = secret("list")
    assert empty.returncode == 0
    assert "No secrets" in empty.stderr
    secret("create", "api-token", stdin=VALUE)
    secret("create", "db-pass", "--group", "postgres", stdin=OTHER)
    result = secret("list")
    assert result.returncode == 0, result.stderr
    lines = [line.split() for line in result.stdout.splitlines()]
    assert lines == [["KEY", "GROUP"], ["api-token", "-"], ["db-pass", "postgres"]]


def test_delete(secret, home: Path) -> None:
    secret("create", "k", "--group", "g", stdin=VALUE)
    secret("create", "k", stdin=OTHER)
    wrong_group = secret("delete", "k", "--group", "other")
    assert wrong_group.returncode == 1
    assert "no secret k (group other)" in wrong_group.stderr
    result = secret("delete", "k", "--group", "g")
    assert result.returncode == 0, result.stderr
    assert "Deleted secret k (group g)" in result.stdout
    assert stored(home).list() == [("k", None)]
    again = secret("delete", "k", "--group", "g")
    assert again.returncode == 1
    assert again.stderr.startswith("Error: no secret k (group g)")


def test_delete_of_an_absent_secret_exits_1(secret) -> None:
    result = secret("delete", "never-created")
    assert result.returncode == 1
    assert "never-created" in result.stderr
    assert result.stdout == ""


def test_a_world_readable_file_is_refused_with_advice(secret, home: Path) -> None:
    secret("create", "k", stdin=VALUE)
    os.chmod(home / "secrets" / "secrets.json", 0o644)
    for args in (("list",), ("create", "k2", "--value", "x"), ("delete", "k")):
        result = secret(*args)
        assert result.returncode == 1
        assert "chmod 600" in result.stderr


def test_create_on_a_terminal_prompts_twice_with_hidden_input(env: dict[str, str], home: Path) -> None:
    """On a tty the value is typed, not echoed, and confirmed."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the CLI, with the pty as its controlling terminal
        os.execve(sys.executable, [*COMMAND, "create", "typed", "--group", "g"], env)
    transcript = b""

    def read_until(marker: bytes | None) -> None:
        """Read what the child prints until ``marker`` appears (None: until it closes the terminal)."""
        nonlocal transcript
        deadline = time.monotonic() + 30
        while marker is None or marker not in transcript:
            assert time.monotonic() < deadline, transcript
            ready, _, _ = select.select([fd], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(fd, 1024)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                transcript += chunk

    try:
        read_until(b"Value:")
        os.write(fd, VALUE.encode() + b"\n")
        read_until(b"Repeat")
        os.write(fd, VALUE.encode() + b"\n")
        read_until(b"Created secret")
        read_until(None)
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0, transcript
    assert VALUE.encode() not in transcript
    assert stored(home).get("typed", "g") == VALUE
