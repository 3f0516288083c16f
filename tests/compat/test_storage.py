"""flyte.storage over roost's blob store: real files on the local disk and in fsspec's memory filesystem."""

from __future__ import annotations

import asyncio
import datetime
from pathlib import Path

import pytest

import roost as flyte
from roost import storage
from roost.store import blobs, object_stores


@pytest.fixture(autouse=True)
def forget_storage():
    yield
    object_stores.configure_storage(None)


def test_put_get_exists_on_local_and_memory(tmp_path: Path, roost_home: Path):
    src = tmp_path / "data.txt"
    src.write_text("hello storage")

    async def go():
        url = await storage.put(str(src), "memory://bucket/in/data.txt")
        assert url == "memory://bucket/in/data.txt"
        assert await storage.exists(url) and not await storage.exists("memory://bucket/nope")
        local = await storage.get(url)
        assert Path(local).read_text() == "hello storage" and Path(local).name == "data.txt"
        assert str(roost_home / "tmp") in str(local)  # nothing outside ROOST_HOME
        into = tmp_path / "dest"
        into.mkdir()
        assert await storage.get(url, into) == str(into / "data.txt")
        # Without to_path: a fresh location in roost's blob store.
        stored = await storage.put(str(src))
        assert blobs.local_path_of(stored).startswith(str(roost_home / "blobs")) and stored.endswith("data.txt")
        with pytest.raises(FileNotFoundError):
            await storage.get("memory://bucket/missing.txt")

    asyncio.run(go())
    assert storage.exists_sync("memory://bucket/in/data.txt")


def test_folders_recursive(tmp_path: Path):
    folder = tmp_path / "tree"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("a")
    (folder / "sub" / "b.txt").write_text("b")

    async def go():
        url = await storage.put(str(folder), "memory://bucket/tree", recursive=True)
        back = await storage.get(url, tmp_path / "copy", recursive=True)
        return Path(back)

    back = asyncio.run(go())
    assert (back / "a.txt").read_text() == "a" and (back / "sub" / "b.txt").read_text() == "b"


def test_streams_and_open():
    async def chunks():
        for part in (b"one,", b"two,", b"three"):
            yield part

    async def go():
        url = await storage.put_stream(chunks(), to_path="memory://bucket/stream.bin")
        got = b"".join([c async for c in storage.get_stream(url, chunk_size=3)])
        assert got == b"one,two,three"
        named = await storage.put_stream(b"raw bytes", name="raw.bin")
        assert named.endswith("raw.bin")
        async with await storage.open(named, "rb") as f:
            assert await f.read() == b"raw bytes"
        f = await storage.open("memory://bucket/w.txt", "wb")
        await f.write(b"written")
        await f.close()
        assert storage.exists_sync("memory://bucket/w.txt")

    asyncio.run(go())


def test_paths_and_helpers(roost_home: Path):
    assert storage.join("s3://b", "k", "f.txt") == "s3://b/k/f.txt"
    assert storage.is_remote("s3://b/k") and not storage.is_remote("/tmp/x") and not storage.is_remote("file:///x")
    path = storage.get_random_local_path("some/where/model.pt")
    assert path.name == "model.pt" and path.parent.is_dir() and roost_home in path.parents
    folder = storage.get_random_local_directory()
    assert folder.is_dir() and not any(folder.iterdir())
    assert type(storage.get_underlying_filesystem(path="memory://x")).__name__ == "MemoryFileSystem"


def test_object_store_configs_become_fsspec_options(monkeypatch: pytest.MonkeyPatch):
    s3 = flyte.storage.S3(endpoint="http://localhost:9000", access_key_id="minio", secret_access_key="s3cr3t-key")
    assert "s3cr3t-key" not in repr(s3)
    flyte.init(storage=s3)
    options = storage.get_configured_fsspec_kwargs("s3")
    assert options["key"] == "minio" and options["secret"] == "s3cr3t-key"
    assert options["client_kwargs"] == {"endpoint_url": "http://localhost:9000"}
    assert storage.get_configured_fsspec_kwargs() == options
    assert storage.get_configured_fsspec_kwargs("s3", anonymous=True)["anon"] is True
    assert storage.get_configured_fsspec_kwargs("file") == {}
    # Other protocols, and S3 without init: from Flyte's environment variables.
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_NAME", "acct")
    assert storage.get_configured_fsspec_kwargs("abfs") == {"account_name": "acct"}
    assert storage.get_configured_fsspec_kwargs("gs", anonymous=True) == {"token": "anon"}
    flyte.init()
    monkeypatch.setenv("FLYTE_AWS_ENDPOINT", "http://minio:9000")
    monkeypatch.setenv("FLYTE_STORAGE_BACKOFF_SECONDS", "7")
    assert storage.get_configured_fsspec_kwargs("s3")["client_kwargs"] == {"endpoint_url": "http://minio:9000"}
    assert flyte.storage.S3.auto().backoff == datetime.timedelta(seconds=7)
    with pytest.raises(TypeError, match="storage must be"):
        flyte.init(storage=42)


env = flyte.TaskEnvironment(name="storage_use")


@env.task
async def round_trip(text: str) -> str:
    url = await flyte.storage.put_stream(text.encode(), name="note.txt")
    local = await flyte.storage.get(url)
    return Path(local).read_text()


def test_inside_a_task():
    assert flyte.run(round_trip, "from a task").outputs()[0] == "from a task"
