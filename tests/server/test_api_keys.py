"""The server's API key store: keys shown once, kept hashed, revocable, seen across processes."""

from __future__ import annotations

import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from roost.cli.server_keys import add_key_commands
from roost.server import api_keys
from roost.server.api_keys import KEY_PREFIX, ApiKeyError, ApiKeys, keys_path


@pytest.fixture
def path(roost_home: Path) -> Path:
    return keys_path(roost_home)


@pytest.fixture
def keys(path: Path) -> Iterator[ApiKeys]:
    store = ApiKeys(path)
    yield store
    store.close()


def verify(path: Path, key: str) -> str | None:
    """What a fresh ApiKeys on ``path`` (another process, in effect) says of ``key``."""
    other = ApiKeys(path)
    try:
        return other.verify(key)
    finally:
        other.close()


def test_create_verify_list_revoke(keys: ApiKeys):
    key = keys.create("ci")
    assert key.startswith(KEY_PREFIX) and len(key) > len(KEY_PREFIX) + 40
    other = keys.create("laptop.1")
    assert keys.verify(key) == "ci" and keys.verify(other) == "laptop.1"
    assert keys.verify(None) is None and keys.verify("") is None and keys.verify(key + "x") is None

    infos = keys.list()
    assert [i.name for i in infos] == ["ci", "laptop.1"]
    assert infos[0].hint == key[len(KEY_PREFIX) : len(KEY_PREFIX) + 4] + "…"
    assert infos[0].last_used_at is not None and infos[0].created_at <= infos[0].last_used_at
    assert key not in repr(infos) and key not in repr(keys)

    keys.revoke("ci")
    assert keys.verify(key) is None and keys.verify(other) == "laptop.1"
    assert [i.name for i in keys.list()] == ["laptop.1"]


def test_keys_are_hashed_at_rest(keys: ApiKeys, path: Path):
    key = keys.create("ci")
    assert keys.verify(key) == "ci"
    for _ in ("open", "closed"):  # the write-ahead log while the connection is open, the database after
        for file in path.parent.iterdir():
            data = file.read_bytes()
            assert key.encode() not in data and key[len(KEY_PREFIX) :].encode() not in data
        keys.close()


def test_last_used_is_written_at_most_once_a_minute(keys: ApiKeys, monkeypatch: pytest.MonkeyPatch):
    key = keys.create("ci")
    now = [time.time()]
    monkeypatch.setattr(api_keys.time, "time", lambda: now[0])
    keys.verify(key)
    first = keys.list()[0].last_used_at
    now[0] += 30
    keys.verify(key)
    assert keys.list()[0].last_used_at == first
    now[0] += 31
    keys.verify(key)
    assert keys.list()[0].last_used_at == now[0]


@pytest.mark.parametrize("name", ["", "a b", "x" * 65, "a/b", "line\nbreak", "ключ"])
def test_bad_names_are_refused_in_one_line(keys: ApiKeys, name: str):
    with pytest.raises(ApiKeyError) as e:
        keys.create(name)
    assert "\n" not in str(e.value) and "not allowed" in str(e.value)


def test_duplicate_and_unknown_names_are_refused_in_one_line(keys: ApiKeys):
    key = keys.create("ci")
    with pytest.raises(ApiKeyError, match="already exists") as e:
        keys.create("ci")
    assert "\n" not in str(e.value) and key not in str(e.value)
    with pytest.raises(ApiKeyError, match="no API key named 'nope'"):
        keys.revoke("nope")


def test_enabled_follows_keys_in_this_and_another_object(keys: ApiKeys, path: Path):
    assert not keys.enabled()
    assert not path.exists()  # asking creates nothing
    server = ApiKeys(path)
    try:
        assert not server.enabled()
        keys.create("ci")
        assert keys.enabled()
        deadline = time.monotonic() + 3
        while not server.enabled():
            assert time.monotonic() < deadline, "another object never saw the new key"
            time.sleep(0.05)
        keys.revoke("ci")
        assert not keys.enabled()
        deadline = time.monotonic() + 3
        while server.enabled():
            assert time.monotonic() < deadline, "another object never saw the revocation"
            time.sleep(0.05)
    finally:
        server.close()


def test_the_file_is_private(keys: ApiKeys, path: Path):
    keys.create("ci")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_verify_from_many_threads(keys: ApiKeys):
    key = keys.create("ci")
    results: list[str | None] = []

    def check() -> None:
        for _ in range(50):
            results.append(keys.verify(key))

    threads = [threading.Thread(target=check) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["ci"] * 400


# -- the commands ------------------------------------------------------------------------------------


@pytest.fixture
def invoke():
    @click.group()
    def server() -> None:
        pass

    add_key_commands(server)
    runner = CliRunner()
    return lambda *args: runner.invoke(server, list(args))


def test_create_key_prints_the_key_once_and_list_never(invoke, path: Path):
    created = invoke("create-key", "ci")
    assert created.exit_code == 0, created.output
    key = created.stdout.strip()
    assert key.startswith(KEY_PREFIX) and "\n" not in key
    assert "not be shown again" in created.stderr and "ROOST_API_KEY" in created.stderr
    assert "api_key=" in created.stderr and key not in created.stderr
    assert verify(path, key) == "ci"

    listed = invoke("list-keys")
    assert listed.exit_code == 0
    assert "ci" in listed.stdout and key[len(KEY_PREFIX) : len(KEY_PREFIX) + 4] in listed.stdout
    assert key not in listed.output and key[len(KEY_PREFIX) :] not in listed.output

    revoked = invoke("revoke-key", "ci")
    assert revoked.exit_code == 0 and verify(path, key) is None
    assert "No API keys" in invoke("list-keys").stderr


def test_command_errors_are_one_line_with_exit_code_1(invoke):
    for args in (("revoke-key", "nope"), ("create-key", "bad name")):
        result = invoke(*args)
        assert result.exit_code == 1
        assert result.stderr.strip().count("\n") == 0 and result.stderr.startswith("Error:")
    invoke("create-key", "ci")
    duplicate = invoke("create-key", "ci")
    assert duplicate.exit_code == 1 and "already exists" in duplicate.stderr and duplicate.stdout == ""
