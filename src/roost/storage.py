"""``flyte.storage``: read and write files at any fsspec URL, with roost's blob-store configuration.

As in Flyte, ``get``, ``put``, ``open``, ``put_stream``, ``get_stream`` and ``exists`` are coroutines
(``exists_sync`` is the blocking ``exists``); ``join``, ``is_remote`` and the local-path helpers are
plain functions. Where Flyte uses its raw-data prefix (``put`` or ``put_stream`` without ``to_path``),
roost uses its blob store (``ROOST_HOME/blobs`` unless ``init(storage="s3://...")`` says otherwise).

Differences, on purpose:

- ``open`` works on every filesystem: a synchronous one (a local path, ``file://``, ``memory://``)
  is wrapped in an async file. Flyte raises ``OnlyAsyncIOSupportedError`` there.
- Random local paths are made under ``ROOST_HOME/tmp`` (Flyte: ``/tmp/flyte-tmp-*``), so nothing is
  left behind outside ROOST_HOME.
- ``get`` of a missing path raises ``FileNotFoundError`` (Flyte: ``AssertionError``).
"""

from __future__ import annotations

import asyncio
import os
import pathlib
import uuid
from collections.abc import AsyncGenerator, AsyncIterable
from typing import Any

from roost.store import blobs, store_config
from roost.store.object_stores import ABFS, GCS, S3, Storage, configured_storage, fsspec_kwargs

__all__ = [
    "ABFS",
    "GCS",
    "S3",
    "Storage",
    "exists",
    "exists_sync",
    "get",
    "get_configured_fsspec_kwargs",
    "get_random_local_directory",
    "get_random_local_path",
    "get_stream",
    "get_underlying_filesystem",
    "is_remote",
    "join",
    "open",
    "put",
    "put_stream",
]


def _protocol(path: str) -> str:
    return str(path).split("://", 1)[0] if "://" in str(path) else "file"


def is_remote(path: pathlib.Path | str) -> bool:
    """True for a URL of a filesystem other than the local one."""
    return _protocol(str(path)) not in ("file", "local")


def join(*paths: str) -> str:
    """The parts joined with ``/`` (``os.path.join``, as in Flyte)."""
    return str(os.path.join(*paths))


def get_random_local_path(file_path_or_file_name: pathlib.Path | str | None = None) -> pathlib.Path:
    """A fresh local path under ``ROOST_HOME/tmp``; with a name, a fresh folder holding that leaf name."""
    folder = store_config.current().home / "tmp" / uuid.uuid4().hex
    tail = os.path.split(str(file_path_or_file_name))[1] if file_path_or_file_name else ""
    if tail:
        folder.mkdir(parents=True, exist_ok=True)
        return folder / tail
    folder.parent.mkdir(parents=True, exist_ok=True)
    return folder


def get_random_local_directory() -> pathlib.Path:
    """A fresh, existing, empty local folder."""
    folder = get_random_local_path()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def get_configured_fsspec_kwargs(protocol: str | None = None, anonymous: bool = False) -> dict[str, Any]:
    """The fsspec options roost uses for ``protocol`` (the configured store's, or from the environment);
    without a protocol, those of the store ``init(storage=...)`` configured, if any."""
    if protocol is None:
        configured = configured_storage()
        return configured.get_fsspec_kwargs(anonymous) if configured is not None else {}
    return fsspec_kwargs(protocol, anonymous)


def get_underlying_filesystem(
    protocol: str | None = None, anonymous: bool = False, path: str | None = None, **kwargs: Any
) -> Any:
    """The fsspec filesystem for ``protocol`` (or the protocol of ``path``), configured as roost uses it."""
    import fsspec

    protocol = protocol or _protocol(path or "")
    options = get_configured_fsspec_kwargs(protocol, anonymous=anonymous)
    options.update(kwargs)
    return fsspec.filesystem(protocol, **options)


def _fs(path: str, **kwargs: Any) -> tuple[Any, str]:
    fs, inner = blobs.url_to_fs(str(path))
    if kwargs:
        fs = get_underlying_filesystem(path=str(path), **kwargs)
    return fs, inner


async def get(from_path: str, to_path: str | pathlib.Path | None = None, recursive: bool = False, **kwargs: Any) -> str:
    """Download ``from_path`` (a file, or a folder with ``recursive``) and return the local path.

    Without ``to_path``: a fresh local path keeping the file's name. A ``to_path`` that is an existing
    folder (or ends in a separator) receives the file under its own name.
    """
    if not to_path:
        to_path = get_random_local_path(pathlib.PurePosixPath(str(from_path)).name)
    elif not recursive:
        text = str(to_path)
        target = pathlib.Path(to_path)
        if text.endswith(os.sep) or target.is_dir():
            to_path = target / pathlib.PurePosixPath(str(from_path)).name

    def download() -> str:
        fs, inner = _fs(from_path, **kwargs)
        if not fs.exists(inner):
            raise FileNotFoundError(f"flyte.storage.get: {from_path} does not exist")
        destination = os.fspath(to_path)
        if recursive or fs.isdir(inner):
            os.makedirs(destination, exist_ok=True)
            fs.get(inner.rstrip("/") + "/", destination, recursive=True)
        else:
            os.makedirs(os.path.dirname(destination) or ".", exist_ok=True)
            fs.get_file(inner, destination)
        return destination

    return await asyncio.to_thread(download)


def _new_remote(name: str | None) -> str:
    return blobs.blob_store(store_config.current().raw_data_url).new_uri(name)


async def put(
    from_path: str,
    to_path: str | None = None,
    recursive: bool = False,
    batch_size: int | None = None,
    chunk_size: int | None = None,
    max_concurrency: int | None = None,
    **kwargs: Any,
) -> str:
    """Upload a local file (or folder, with ``recursive``) to ``to_path`` -- by default a fresh location
    in roost's blob store -- and return where it went. ``batch_size``, ``chunk_size`` and
    ``max_concurrency`` tune Flyte's multipart uploads; fsspec chooses its own here."""
    source = blobs.local_path_of(str(from_path))
    if not os.path.exists(source):
        raise FileNotFoundError(f"flyte.storage.put: {from_path} does not exist")
    destination = to_path or _new_remote(pathlib.Path(source).name)

    def upload() -> str:
        fs, inner = _fs(destination, **kwargs)
        if recursive or os.path.isdir(source):
            fs.makedirs(inner, exist_ok=True)
            fs.put(source.rstrip("/") + "/", inner, recursive=True)
        else:
            parent = inner.rsplit("/", 1)[0]
            if parent:
                fs.makedirs(parent, exist_ok=True)
            fs.put_file(source, inner)
        return str(destination)

    return await asyncio.to_thread(upload)


class _AsyncFile:
    """An fsspec file behind Flyte's async file interface (``await f.read()``, ``async with``)."""

    def __init__(self, handle: Any):
        self._handle = handle

    async def read(self, size: int = -1) -> bytes:
        return await asyncio.to_thread(self._handle.read, size)  # type: ignore[no-any-return]

    async def write(self, data: bytes) -> int:
        return await asyncio.to_thread(self._handle.write, data)  # type: ignore[no-any-return]

    async def seek(self, offset: int, whence: int = 0) -> int:
        return self._handle.seek(offset, whence)  # type: ignore[no-any-return]

    def tell(self) -> int:
        return self._handle.tell()  # type: ignore[no-any-return]

    async def flush(self) -> None:
        await asyncio.to_thread(self._handle.flush)

    async def close(self) -> None:
        await asyncio.to_thread(self._handle.close)

    @property
    def closed(self) -> bool:
        return bool(self._handle.closed)

    async def __aenter__(self) -> _AsyncFile:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def open(path: str, mode: str = "rb", **kwargs: Any) -> Any:
    """Open ``path`` and return an async file (``await f.read()`` / ``await f.write(b)``, ``async with``)."""
    from fsspec.asyn import AsyncFileSystem

    fs, inner = _fs(path)
    if "w" in mode or "a" in mode:
        parent = inner.rsplit("/", 1)[0]
        if parent:
            await asyncio.to_thread(fs.makedirs, parent, exist_ok=True)
    if isinstance(fs, AsyncFileSystem) and getattr(fs, "async_impl", False):
        return await fs.open_async(inner, mode, **kwargs)
    handle = await asyncio.to_thread(fs.open, inner, mode, **kwargs)
    return _AsyncFile(handle)


async def put_stream(
    data_iterable: AsyncIterable[bytes] | bytes,
    *,
    name: str | None = None,
    to_path: str | None = None,
    size_hint: int | None = None,
    chunk_size: int | None = None,
    max_concurrency: int | None = None,
    **kwargs: Any,
) -> str:
    """Write bytes, or the chunks of an async iterable, to ``to_path`` (by default a fresh location in
    roost's blob store named ``name``) and return the path."""
    destination = to_path or _new_remote(name)
    handle = await open(destination, "wb", **kwargs)
    try:
        if isinstance(data_iterable, (bytes, bytearray, memoryview)):
            await handle.write(bytes(data_iterable))
        else:
            async for chunk in data_iterable:
                await handle.write(chunk)
    finally:
        await handle.close()
    return str(destination)


async def get_stream(path: str, chunk_size: int = 10 * 2**20, **kwargs: Any) -> AsyncGenerator[bytes, None]:
    """The bytes at ``path``, in chunks of at most ``chunk_size``."""
    handle = await open(path, "rb", **kwargs)
    try:
        while chunk := await handle.read(chunk_size):
            yield chunk
    finally:
        await handle.close()


def exists_sync(path: str, **kwargs: Any) -> bool:
    """Whether a file or folder exists at ``path``."""
    fs, inner = _fs(path, **kwargs)
    return bool(fs.exists(inner))


async def exists(path: str, **kwargs: Any) -> bool:
    """Whether a file or folder exists at ``path``."""
    return await asyncio.to_thread(exists_sync, path, **kwargs)
