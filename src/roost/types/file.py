"""``flyte.io.File``: a reference to one blob (a path or URL, a display name, a format, a content hash).

``from_local`` always copies the file into the content-addressed blob store, also when the store is
local. The SDK keeps the original path in that case; roost does not, because a run is durable: a
resumed run or a cache hit hands the File to later tasks, possibly days later, and the user's working
file (often in a temporary folder) may have changed or vanished by then. The copy is made once per
content (same bytes, same blob), in one pass that also computes the hash.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import IO, Any, Generic, TypeVar

from roost.store.blobs import is_local_fs, tmp_beside, url_to_fs
from roost.store.store_config import current, require_initialized
from roost.types._references import BlobReference, hash_with, store
from roost.types._sync import in_thread

T = TypeVar("T")


@dataclass
class File(BlobReference, Generic[T]):
    """A file, local or remote. Create one with ``from_local``, ``new_remote``, ``named_remote`` or
    ``from_existing_remote``; the constructor only makes a reference to an existing path."""

    # -- creating ----------------------------------------------------------------------------------------

    @classmethod
    async def from_local(
        cls,
        local_path: str | os.PathLike[str],
        remote_destination: str | None = None,
        hash_method: Any = None,
        chunk_size: int | None = None,
        max_concurrency: int | None = None,
    ) -> File[T]:
        """Copy a local file into the blob store (or to ``remote_destination``). Requires ``init()``."""
        return await in_thread(cls.from_local_sync, local_path, remote_destination, hash_method, chunk_size)

    @classmethod
    def from_local_sync(
        cls,
        local_path: str | os.PathLike[str],
        remote_destination: str | None = None,
        hash_method: Any = None,
        chunk_size: int | None = None,
        max_concurrency: int | None = None,
    ) -> File[T]:
        require_initialized("File.from_local")
        src = os.path.abspath(local_path)
        uri, sha = store().put_local(src, remote_destination, directory=False)
        return cls(path=uri, name=os.path.basename(src), hash=hash_with(hash_method, src) or sha)

    @classmethod
    def new_remote(cls, file_name: str | None = None, hash_method: Any = None) -> File[T]:
        """A fresh random location in the blob store, to write with ``open("wb")``. Requires ``init()``."""
        require_initialized("File.new_remote")
        return cls(
            path=store().new_uri(file_name), name=file_name, hash=hash_method if isinstance(hash_method, str) else None
        )

    @classmethod
    def named_remote(cls, name: str) -> File[T]:
        """A location named for the running action: the same on every retry of that action."""
        config = current()
        if not config.in_task:
            raise ValueError("File.named_remote needs a task context: call it from inside a task")
        return cls(path=store().named_uri(config.action_path, name), name=name)

    @classmethod
    def from_existing_remote(cls, remote_path: str, file_cache_key: str | None = None) -> File[T]:
        """A reference to an existing file; ``file_cache_key`` stands in for its content in cache keys."""
        return cls(path=remote_path, hash=file_cache_key)

    # -- reading and writing -----------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def open(
        self,
        mode: str = "rb",
        block_size: int | None = None,
        cache_type: str = "readahead",
        cache_options: dict[str, Any] | None = None,
        compression: str | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[AsyncFile]:
        """``async with f.open() as fh: data = await fh.read()``. Writes land atomically on close."""
        cm = self.open_sync(mode, block_size, cache_type, cache_options, compression, **kwargs)
        handle = await in_thread(cm.__enter__)
        try:
            yield AsyncFile(handle)
        except BaseException as e:
            if not await in_thread(cm.__exit__, type(e), e, e.__traceback__):
                raise
        else:
            await in_thread(cm.__exit__, None, None, None)

    @contextlib.contextmanager
    def open_sync(
        self,
        mode: str = "rb",
        block_size: int | None = None,
        cache_type: str = "readahead",
        cache_options: dict[str, Any] | None = None,
        compression: str | None = None,
        **kwargs: Any,
    ) -> Iterator[IO[Any]]:
        fs, path = url_to_fs(self.path)
        options: dict[str, Any] = dict(kwargs)
        if block_size is not None:
            options["block_size"] = block_size
        if compression is not None:
            options["compression"] = compression
        if not is_local_fs(fs):
            options["cache_type"] = cache_type
            if cache_options is not None:
                options["cache_options"] = cache_options
        if not any(c in mode for c in "wax+"):
            with fs.open(path, mode, **options) as f:
                yield f
            return
        # Write to a temporary name and rename on success: readers never see a partial file.
        tmp = tmp_beside(fs, path)
        try:
            with fs.open(tmp, mode, **options) as f:
                yield f
            fs.mv(tmp, path)
        finally:
            if fs.exists(tmp):
                fs.rm(tmp)

    def exists_sync(self) -> bool:
        fs, path = url_to_fs(self.path)
        return bool(fs.exists(path))

    def download_sync(self, local_path: str | os.PathLike[str] | None = None) -> str:
        """Copy the file to ``local_path`` (default: a new temporary folder, keeping ``name``)."""
        if local_path is None:
            local_path = os.path.join(tempfile.mkdtemp(prefix="roost-"), self.name or "file")
        elif os.path.isdir(local_path):
            local_path = os.path.join(local_path, self.name or "file")
        return store().get(self.path, local_path)


class AsyncFile:
    """An open file whose I/O methods are coroutines (run in a thread, off the event loop)."""

    def __init__(self, handle: IO[Any]):
        self._handle = handle

    @property
    def handle(self) -> IO[Any]:
        """The underlying synchronous file object."""
        return self._handle

    async def read(self, size: int = -1) -> Any:
        return await in_thread(self._handle.read, size)

    async def readline(self, size: int = -1) -> Any:
        return await in_thread(self._handle.readline, size)

    async def readlines(self) -> list[Any]:
        return await in_thread(self._handle.readlines)

    async def write(self, data: Any) -> int:
        return await in_thread(self._handle.write, data)

    async def seek(self, offset: int, whence: int = 0) -> int:
        return await in_thread(self._handle.seek, offset, whence)

    def tell(self) -> int:
        return self._handle.tell()

    async def flush(self) -> None:
        await in_thread(self._handle.flush)

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._lines()

    async def _lines(self) -> AsyncIterator[Any]:
        while line := await self.readline():
            yield line
