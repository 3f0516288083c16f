"""BlobStore: content addressing, atomic writes, file:// and memory:// URLs; StoreConfig."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import pytest

from roost.errors import InitializationError
from roost.store import store_config as config
from roost.store.blobs import BlobStore, blob_store, dir_digest


@pytest.fixture
def store(tmp_path) -> BlobStore:
    return BlobStore((tmp_path / "blobs").as_uri())


@pytest.fixture
def memory_store() -> BlobStore:
    return BlobStore(f"memory://roost-test-{uuid.uuid4().hex}")


def test_put_file_is_content_addressed_and_stored_once(store, tmp_path):
    a = tmp_path / "a.txt"
    b = tmp_path / "b.txt"
    a.write_bytes(b"same bytes")
    b.write_bytes(b"same bytes")
    sha = hashlib.sha256(b"same bytes").hexdigest()
    uri_a, sha_a = store.put_file(a)
    uri_b, sha_b = store.put_file(b)
    assert sha_a == sha_b == sha and uri_a == uri_b
    assert uri_a == f"{store.root}/{sha[:2]}/{sha}"
    assert Path(uri_a).read_bytes() == b"same bytes"
    assert [p for p in Path(store.root).rglob("*") if p.is_file()] == [Path(uri_a)]


def test_put_bytes_and_read_back(store):
    uri, sha = store.put_bytes(b"\x00\x01payload")
    assert store.exists(uri) and store.read_bytes(uri) == b"\x00\x01payload"
    with store.open(uri) as f:
        assert f.read() == b"\x00\x01payload"
    assert store.put_bytes(b"\x00\x01payload") == (uri, sha)


def test_missing_file_is_a_value_error_and_writes_nothing(store, tmp_path):
    with pytest.raises(ValueError, match=r"file not found: .*missing.txt"):
        store.put_file(tmp_path / "missing.txt")
    with pytest.raises(ValueError, match="directory not found"):
        store.put_dir(tmp_path / "missing-dir")
    assert not Path(store.root).exists() or not any(Path(store.root).rglob("*"))


def test_a_failed_write_leaves_no_blob_and_no_temporary_file(store, tmp_path, monkeypatch):
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(3 << 20))

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        store.put_file(src)
    monkeypatch.undo()
    assert [p for p in Path(store.root).rglob("*") if p.is_file()] == []


def test_a_half_copied_file_never_appears_under_its_final_name(store, tmp_path, monkeypatch):
    """Interrupt the copy midway: the content hash name must not exist."""
    src = tmp_path / "data.bin"
    data = os.urandom(3 << 20)
    src.write_bytes(data)
    real_open = open
    written = []

    class Interrupted(Exception):
        pass

    class FailingWriter:
        def __init__(self, f):
            self.f = f

        def write(self, chunk):
            written.append(len(chunk))
            if len(written) == 2:
                raise Interrupted
            return self.f.write(chunk)

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    def fake_open(path, mode="r", *args, **kwargs):
        f = real_open(path, mode, *args, **kwargs)
        return FailingWriter(f) if "w" in mode else f

    monkeypatch.setattr("builtins.open", fake_open)
    with pytest.raises(Interrupted):
        store.put_file(src)
    monkeypatch.undo()
    sha = hashlib.sha256(data).hexdigest()
    assert not Path(store.blob_path(sha)).exists()
    assert [p for p in Path(store.root).rglob("*") if p.is_file()] == []
    assert store.put_file(src)[1] == sha  # and a later attempt succeeds


def test_put_dir_is_content_addressed(store, tmp_path):
    for name in ("one", "two"):
        root = tmp_path / name
        (root / "sub" / "empty").mkdir(parents=True)
        (root / "a.txt").write_text("a")
        (root / "sub" / "b.txt").write_text("b")
    uri1, h1 = store.put_dir(tmp_path / "one")
    uri2, h2 = store.put_dir(tmp_path / "two")
    assert (uri1, h1) == (uri2, h2) and h1 == dir_digest(str(tmp_path / "one"))
    assert (Path(uri1) / "sub" / "b.txt").read_text() == "b"
    assert (Path(uri1) / "sub" / "empty").is_dir()
    (tmp_path / "two" / "a.txt").write_text("changed")
    assert store.put_dir(tmp_path / "two")[1] != h1
    out = store.get(uri1, tmp_path / "download")
    assert Path(out, "a.txt").read_text() == "a"


def test_move_takes_the_file(store, tmp_path):
    src = tmp_path / "frame.parquet"
    src.write_bytes(b"parquet-ish")
    uri, _ = store.put_file(src, move=True)
    assert not src.exists() and Path(uri).read_bytes() == b"parquet-ish"


def test_memory_store_round_trip(memory_store, tmp_path):
    src = tmp_path / "x.txt"
    src.write_bytes(b"in memory")
    uri, sha = memory_store.put_file(src)
    assert uri.startswith("memory://") and uri.endswith(sha)
    assert memory_store.read_bytes(uri) == b"in memory"
    assert memory_store.put_bytes(b"in memory") == (uri, sha)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_text("f")
    duri, _ = memory_store.put_dir(tmp_path / "d")
    assert memory_store.exists(duri)
    out = memory_store.get(duri, tmp_path / "back")
    assert Path(out, "f").read_text() == "f"
    assert memory_store.contains(uri) and not memory_store.contains("memory://elsewhere/x")


def test_put_at_exact_destination(store, tmp_path):
    src = tmp_path / "report.csv"
    src.write_text("a,b")
    dest = tmp_path / "out" / "named.csv"
    uri, sha = store.put_file_at(src, str(dest))
    assert uri == str(dest) and dest.read_text() == "a,b" and sha == hashlib.sha256(b"a,b").hexdigest()


def test_blob_store_is_cached_per_url(tmp_path):
    url = (tmp_path / "b").as_uri()
    assert blob_store(url) is blob_store(url)


def test_store_config_defaults_and_configure(tmp_path, monkeypatch):
    config.reset()
    monkeypatch.setenv("ROOST_HOME", str(tmp_path / "home"))
    current = config.current()
    assert current.home == (tmp_path / "home").resolve() and not current.initialized
    assert current.raw_data_url == (tmp_path / "home" / "blobs").resolve().as_uri()
    with pytest.raises(InitializationError, match=r"File.from_local requires initialization"):
        config.require_initialized("File.from_local")
    configured = config.configure(raw_data_url=str(tmp_path / "elsewhere"))
    assert configured.initialized and configured.raw_data_url == (tmp_path / "elsewhere").resolve().as_uri()
    assert config.require_initialized("x") is configured
    config.reset()
    monkeypatch.delenv("ROOST_HOME")
    assert config.current().home == Path.home() / ".roost"


def test_task_scope_counts_as_initialized(tmp_path):
    config.reset()
    with config.task_scope("run1/a0", raw_data_url="memory://scoped") as scoped:
        assert scoped.in_task and config.current() == scoped
        assert config.require_initialized("File.new_remote").action_path == "run1/a0"
        assert config.current().raw_data_url == "memory://scoped"
    assert not config.current().in_task
