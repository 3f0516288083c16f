"""``flyte.io.Dir``: a reference to a directory tree in the blob store (or anywhere fsspec reaches).

``from_local`` copies the tree into the store under the hash of its manifest (every relative path with
its content hash), so the same tree is stored once and a Dir's ``hash`` identifies its content.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from roost.store.blobs import uri_on, url_to_fs
from roost.store.store_config import require_initialized
from roost.types._references import BlobReference, store
from roost.types._sync import in_thread
from roost.types.file import File

T = TypeVar("T")

# The path of every EmptyDir: no file system or URL can have it (as the SDK's sentinel, and the same
# text, so a value written by either reads as empty in the other).
EMPTY_DIR_PATH = "::flyte-empty-dir::"


@dataclass
class Dir(BlobReference, Generic[T]):
    """A directory, local or remote. Create one with ``from_local``, ``new_remote`` or
    ``from_existing_remote``."""

    # -- creating ----------------------------------------------------------------------------------------

    @classmethod
    async def from_local(
        cls,
        local_path: str | os.PathLike[str],
        remote_destination: str | None = None,
        dir_cache_key: str | None = None,
        batch_size: int | None = None,
        chunk_size: int | None = None,
        max_concurrency: int | None = None,
    ) -> Dir[T]:
        return await in_thread(cls.from_local_sync, local_path, remote_destination, dir_cache_key)

    @classmethod
    def from_local_sync(
        cls,
        local_path: str | os.PathLike[str],
        remote_destination: str | None = None,
        dir_cache_key: str | None = None,
        batch_size: int | None = None,
        chunk_size: int | None = None,
        max_concurrency: int | None = None,
    ) -> Dir[T]:
        """Copy a local directory into the blob store (or to ``remote_destination``). Requires ``init()``."""
        require_initialized("Dir.from_local")
        src = os.path.abspath(local_path)
        uri, digest = store().put_local(src, remote_destination, directory=True)
        return cls(path=uri, name=os.path.basename(src), hash=dir_cache_key or digest)

    @classmethod
    def new_remote(cls, dir_name: str | None = None, hash: str | None = None) -> Dir[T]:
        """A fresh random location in the blob store. Requires ``init()``."""
        require_initialized("Dir.new_remote")
        return cls(path=store().new_uri(dir_name), name=dir_name, hash=hash)

    @classmethod
    def from_existing_remote(cls, remote_path: str, dir_cache_key: str | None = None) -> Dir[T]:
        return cls(path=remote_path, hash=dir_cache_key)

    @classmethod
    def empty(cls) -> Dir[T]:
        """The "no directory was produced" value: an ``EmptyDir`` (check ``is_empty``)."""
        return EmptyDir()

    @property
    def is_empty(self) -> bool:
        """True for the ``EmptyDir`` sentinel (also after it crossed a task boundary as a plain Dir)."""
        return self.path == EMPTY_DIR_PATH

    # -- reading -----------------------------------------------------------------------------------------

    def walk_sync(
        self, recursive: bool = True, file_pattern: str = "*", max_depth: int | None = None
    ) -> Iterator[File[T]]:
        """Every file under the directory (depth first, sorted), as File references."""
        if self.is_empty:
            return
        fs, root = url_to_fs(self.path)
        root = root.rstrip("/")
        depth = 1 if not recursive else max_depth
        for dirpath, _dirs, files in fs.walk(root, maxdepth=depth):
            for name in sorted(files):
                if file_pattern != "*" and not _matches(name, file_pattern):
                    continue
                path = f"{dirpath.rstrip('/')}/{name}"
                yield File(path=uri_on(fs, path), name=name)

    async def walk(
        self, recursive: bool = True, file_pattern: str = "*", max_depth: int | None = None
    ) -> AsyncIterator[File[T]]:
        for f in await in_thread(lambda: list(self.walk_sync(recursive, file_pattern, max_depth))):
            yield f

    def list_files_sync(self) -> list[File[T]]:
        """The files directly in the directory (not in sub-directories)."""
        return list(self.walk_sync(recursive=False))

    async def list_files(self) -> list[File[T]]:
        return await in_thread(self.list_files_sync)

    def exists_sync(self) -> bool:
        if self.is_empty:
            return False  # it stands for a directory that was never made
        fs, path = url_to_fs(self.path)
        return bool(fs.exists(path)) and bool(fs.isdir(path))

    def download_sync(self, local_path: str | os.PathLike[str] | None = None) -> str:
        """Copy the tree to ``local_path`` (default: a new temporary folder); returns that path."""
        if self.is_empty:
            raise ValueError("this Dir is an EmptyDir: no directory was produced, there is nothing to download")
        if local_path is None:
            local_path = os.path.join(tempfile.mkdtemp(prefix="roost-"), self.name or "dir")
        return store().get(self.path, local_path)


class EmptyDir(Dir[Any]):
    """A ``Dir`` standing for "no directory was produced", for a task that may or may not make one.

    Return it where a ``Dir`` is declared (``Optional[Dir]`` is not needed); the receiver gets a plain
    ``Dir`` whose ``is_empty`` is true, as in the SDK, and should test that rather than the class. It
    lists no files and does not exist; ``download`` is a ValueError.
    """

    def __init__(self, path: str = EMPTY_DIR_PATH, name: str | None = "", format: str = "", hash: str | None = None):
        # Whatever path is given, the sentinel's is kept: that is what makes it empty.
        super().__init__(path=EMPTY_DIR_PATH, name=name if name is not None else "", format=format, hash=hash)


def _matches(name: str, pattern: str) -> bool:
    import fnmatch

    return fnmatch.fnmatch(name, pattern)
