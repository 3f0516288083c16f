"""flyte.io.File and Dir over a real file:// blob store."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Optional

import pytest
from typeutil import roundtrip

import roost.io as flyte_io
from roost.errors import InitializationError
from roost.store import store_config as config
from roost.types import Dir, File, TypeEngine


def _files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_public_io_module_exports():
    assert flyte_io.File is File and flyte_io.Dir is Dir
    for name in ("DataFrame", "DataFrameTransformerEngine", "DataFrameEncoder", "DataFrameDecoder", "HashFunction"):
        assert hasattr(flyte_io, name)


def test_from_local_copies_by_content_once(tmp_path, blobs_dir):
    (tmp_path / "a.txt").write_text("hello")
    (tmp_path / "b.txt").write_text("hello")
    fa = File.from_local_sync(tmp_path / "a.txt")
    fb = asyncio.run(File.from_local(str(tmp_path / "b.txt")))
    sha = hashlib.sha256(b"hello").hexdigest()
    assert fa.hash == fb.hash == sha and fa.path == fb.path
    assert fa.name == "a.txt" and fb.name == "b.txt"
    assert _files_under(blobs_dir) == [Path(fa.path)]
    (tmp_path / "a.txt").write_text("changed later")  # the stored copy does not change
    assert Path(fa.path).read_text() == "hello"


def test_from_local_missing_file_is_a_value_error_and_writes_nothing(tmp_path, blobs_dir):
    with pytest.raises(ValueError, match=r"file not found: .*ghost.txt"):
        File.from_local_sync(tmp_path / "ghost.txt")
    with pytest.raises(ValueError, match="directory not found"):
        Dir.from_local_sync(tmp_path / "ghost-dir")
    assert _files_under(blobs_dir) == []


def test_blob_apis_require_init_outside_a_task(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    config.reset()
    for call in (
        lambda: File.from_local_sync(tmp_path / "a.txt"),
        lambda: File.new_remote(),
        lambda: Dir.from_local_sync(tmp_path),
        lambda: Dir.new_remote(),
    ):
        with pytest.raises(InitializationError):
            call()
    with config.task_scope("run/action"):
        assert File.from_local_sync(tmp_path / "a.txt").hash is not None


def test_hash_method_string_and_accumulator(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("abc")
    assert File.from_local_sync(path, hash_method="my-key").hash == "my-key"
    assert File.from_local_sync(path, hash_method=hashlib.md5()).hash == hashlib.md5(b"abc").hexdigest()


def test_remote_destination(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("abc")
    dest = tmp_path / "exports" / "final.txt"
    f = File.from_local_sync(path, remote_destination=str(dest))
    assert f.path == str(dest) and dest.read_text() == "abc"


def test_new_remote_open_write_and_read(tmp_path):
    f = File.new_remote("out.txt")
    assert f.name == "out.txt" and not f.exists_sync()

    async def write_then_read():
        async with f.open("wb") as fh:
            await fh.write(b"line1\nline2\n")
        async with f.open("rb") as fh:
            lines = [line async for line in fh]
        return lines, await f.exists()

    lines, exists = asyncio.run(write_then_read())
    assert lines == [b"line1\n", b"line2\n"] and exists
    with f.open_sync("r") as fh:
        assert fh.read() == "line1\nline2\n"


def test_a_failed_write_leaves_nothing_behind():
    f = File.new_remote("partial.txt")
    with pytest.raises(RuntimeError), f.open_sync("wb") as fh:
        fh.write(b"half")
        raise RuntimeError("boom")
    assert not f.exists_sync()
    assert _files_under(Path(f.path).parent) == []


def test_named_remote_needs_a_task_and_is_stable():
    with pytest.raises(ValueError, match="task context"):
        File.named_remote("model.bin")
    with config.task_scope("run-1/action-a"):
        first = File.named_remote("model.bin")
        again = File.named_remote("model.bin")
    assert first.path == again.path and first.path.endswith("run-1/action-a/model.bin")


def test_download(tmp_path):
    (tmp_path / "a.txt").write_text("data")
    f = File.from_local_sync(tmp_path / "a.txt")
    out = f.download_sync()
    assert Path(out).name == "a.txt" and Path(out).read_text() == "data"
    target = tmp_path / "dl"
    target.mkdir()
    assert asyncio.run(f.download(target)) == str(target / "a.txt")


def test_from_existing_remote_is_a_reference():
    f = File.from_existing_remote("s3://bucket/key.csv", file_cache_key="k1")
    assert f.path == "s3://bucket/key.csv" and f.name == "key.csv" and f.hash == "k1"
    assert roundtrip(f, File) == f  # remote references pass through untouched


def test_file_transformer_uploads_a_plain_local_path(tmp_path, blobs_dir):
    path = tmp_path / "local.txt"
    path.write_text("local")
    back = roundtrip(File(path=str(path)), File)
    assert back.hash == hashlib.sha256(b"local").hexdigest()
    assert Path(back.path).parent.parent == blobs_dir.resolve()
    assert back.name == "local.txt"
    with pytest.raises(ValueError, match="file not found"):
        TypeEngine.to_literal(File(path=str(tmp_path / "gone")), File)
    with pytest.raises(TypeError, match=r"expected .*File"):
        TypeEngine.to_literal(str(path), File)


def test_optional_file_and_generic_file(tmp_path):
    (tmp_path / "a.csv").write_text("x")
    f = File.from_local_sync(tmp_path / "a.csv")
    assert roundtrip(f, Optional[File]) == f
    assert roundtrip(None, Optional[File]) is None
    assert roundtrip(f, File["csv"]) == f


def _make_tree(root: Path) -> Path:
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "top.txt").write_text("top")
    (root / "sub" / "mid.txt").write_text("mid")
    (root / "sub" / "deeper" / "low.txt").write_text("low")
    return root


def test_dir_from_local_walk_list_download(tmp_path):
    d = Dir.from_local_sync(_make_tree(tmp_path / "tree"))
    assert d.name == "tree" and d.hash
    assert sorted(f.name for f in d.walk_sync()) == ["low.txt", "mid.txt", "top.txt"]
    assert [f.name for f in d.walk_sync(recursive=False)] == ["top.txt"]
    assert [f.name for f in d.list_files_sync()] == ["top.txt"]
    assert sorted(f.name for f in d.walk_sync(max_depth=2)) == ["mid.txt", "top.txt"]
    with next(f for f in d.walk_sync() if f.name == "low.txt").open_sync() as fh:
        assert fh.read() == b"low"
    assert d.exists_sync()

    async def run():
        names = [f.name async for f in d.walk()]
        return names, await d.list_files(), await d.download(tmp_path / "copy")

    names, listed, copy = asyncio.run(run())
    assert sorted(names) == ["low.txt", "mid.txt", "top.txt"] and len(listed) == 1
    assert Path(copy, "sub", "deeper", "low.txt").read_text() == "low"


def test_same_dir_content_is_stored_once(tmp_path, blobs_dir):
    one = Dir.from_local_sync(_make_tree(tmp_path / "one"))
    two = Dir.from_local_sync(_make_tree(tmp_path / "two"))
    assert one.path == two.path and one.hash == two.hash
    assert len(_files_under(blobs_dir)) == 3


def test_dir_round_trips_and_uploads_plain_paths(tmp_path):
    tree = _make_tree(tmp_path / "t")
    back = roundtrip(Dir(path=str(tree)), Dir)
    assert (
        back.hash
        and back.path != str(tree)
        and sorted(f.name for f in back.walk_sync())
        == [
            "low.txt",
            "mid.txt",
            "top.txt",
        ]
    )
    assert roundtrip([back], list[Dir]) == [back]


def test_dir_empty_and_new_remote():
    # Dir.empty() is the SDK's EmptyDir sentinel: "no directory was produced"
    empty = Dir.empty()
    assert empty.is_empty and not empty.exists_sync() and list(empty.walk_sync()) == []
    assert roundtrip(empty, Dir).is_empty
    fresh = Dir.new_remote("outputs")
    assert fresh.name == "outputs" and not fresh.exists_sync()


def test_file_and_dir_on_a_memory_store(tmp_path):
    import uuid

    config.configure(home=tmp_path / "h", raw_data_url=f"memory://roost-{uuid.uuid4().hex}")
    (tmp_path / "a.txt").write_text("in memory")
    f = File.from_local_sync(tmp_path / "a.txt")
    assert f.path.startswith("memory://") and f.exists_sync()
    with f.open_sync() as fh:
        assert fh.read() == b"in memory"
    out = File.new_remote("w.txt")
    with out.open_sync("wb") as fh:
        fh.write(b"written")
    with roundtrip(out, File).open_sync() as fh:
        assert fh.read() == b"written"
    d = Dir.from_local_sync(_make_tree(tmp_path / "tree"))
    assert d.path.startswith("memory://")
    assert sorted(x.name for x in d.walk_sync()) == ["low.txt", "mid.txt", "top.txt"]
    assert Path(d.download_sync(tmp_path / "back"), "sub", "mid.txt").read_text() == "mid"
