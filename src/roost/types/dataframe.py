"""``flyte.io.DataFrame``: a reference to a table stored as parquet, plus the handler interfaces.

A DataFrame is either a lazy wrapper around an in-memory frame (``wrap_df``: written to the blob store
when it crosses a task boundary) or a reference to stored data (``uri``). Reading goes through a
decoder for the frame type asked for: ``await df.open(pd.DataFrame).all()``.

Handlers: a ``DataFrameEncoder`` writes frames of one Python type to a binary file in one format, a
``DataFrameDecoder`` reads them back. pandas and pyarrow handlers are built in (imported only when a
frame of that kind is converted); others are added with ``DataFrameTransformerEngine.register``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from typing import IO, Any

from roost.store.blobs import is_remote_uri
from roost.store.store_config import require_initialized
from roost.types._references import PydanticReference
from roost.types._sync import in_thread
from roost.types.literals import Literal

PARQUET = "parquet"


class HashFunction:
    """Wraps ``fn(frame) -> str``: the frame's hash (for cache keys) is then ``fn(frame)``."""

    def __init__(self, fn: Callable[[Any], str]):
        self.fn = fn

    @classmethod
    def from_fn(cls, fn: Callable[[Any], str]) -> HashFunction:
        return cls(fn)

    def __call__(self, frame: Any) -> str:
        return str(self.fn(frame))


class DataFrameEncoder:
    """Writes frames of ``python_type`` as ``supported_format`` (override ``encode``)."""

    def __init__(self, python_type: type, protocol: str | None = None, supported_format: str = PARQUET):
        self.python_type = python_type
        self.protocol = protocol
        self.supported_format = supported_format

    def encode(self, frame: Any, dest: IO[bytes], columns: list[str] | None = None) -> None:
        raise NotImplementedError


class DataFrameDecoder:
    """Reads ``supported_format`` data into ``python_type`` (override ``decode``; ``iter`` optional)."""

    def __init__(self, python_type: type, protocol: str | None = None, supported_format: str = PARQUET):
        self.python_type = python_type
        self.protocol = protocol
        self.supported_format = supported_format

    def decode(self, source: IO[bytes], columns: list[str] | None = None) -> Any:
        raise NotImplementedError

    def iter(self, source: IO[bytes], columns: list[str] | None = None) -> Iterator[Any]:
        """Chunks of the data (default: the whole frame at once)."""
        yield self.decode(source, columns)


class DataFrame(PydanticReference):
    """A table. Fields: ``uri`` (where it is stored), ``format`` (``"parquet"``), ``hash``."""

    PARQUET = PARQUET
    pydantic_fields = ("uri", "format", "hash")

    def __init__(self, uri: str | None = None, format: str = "", hash: str | None = None, **metadata: Any):
        self.uri = os.fspath(uri) if uri is not None else None
        self.format = format
        self.hash = hash
        self._metadata: dict[str, Any] = metadata
        self._val: Any = None
        self._open_type: Any = None
        self._columns: list[str] | None = None

    def __repr__(self) -> str:
        lazy = f", val={type(self._val).__name__}" if self._val is not None else ""
        return f"DataFrame(uri={self.uri!r}, format={self.format!r}, hash={self.hash!r}{lazy})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DataFrame):
            return NotImplemented
        if self.uri is None and other.uri is None:
            return self._val is other._val
        return (self.uri, self.format, self.hash) == (other.uri, other.format, other.hash)

    __hash__ = None  # type: ignore[assignment]

    # -- creating ----------------------------------------------------------------------------------------

    @classmethod
    def wrap_df(cls, val: Any, uri: str | None = None) -> DataFrame:
        """Wrap an in-memory frame; it is written to the blob store when it leaves the task."""
        if isinstance(val, DataFrame) and uri is None:
            # Already a DataFrame (a run's output read back as one): there is nothing more to wrap.
            return val
        df = cls(uri=uri, format=PARQUET)
        df._val = val
        return df

    @classmethod
    def from_df(cls, val: Any, uri: str | None = None) -> DataFrame:
        warnings.warn("DataFrame.from_df is deprecated: use DataFrame.wrap_df", DeprecationWarning, stacklevel=2)
        return cls.wrap_df(val, uri)

    @classmethod
    async def from_local(
        cls, df: Any, columns: list[str] | None = None, remote_destination: str | None = None, hash_method: Any = None
    ) -> DataFrame:
        return await in_thread(cls.from_local_sync, df, columns, remote_destination, hash_method)

    @classmethod
    def from_local_sync(
        cls, df: Any, columns: list[str] | None = None, remote_destination: str | None = None, hash_method: Any = None
    ) -> DataFrame:
        """Write ``df`` (only ``columns`` if given) to the blob store now. Requires ``init()``."""
        require_initialized("DataFrame.from_local")
        from roost.types.transformers.dataframes import DataFrameTransformerEngine

        return DataFrameTransformerEngine.write(
            df, columns=columns, destination=remote_destination, hash_method=hash_method
        )

    @classmethod
    def from_existing_remote(cls, remote_path: str, format: str | None = None, **kwargs: Any) -> DataFrame:
        return cls(uri=remote_path, format=format or PARQUET, **kwargs)

    # -- reading -----------------------------------------------------------------------------------------

    def open(self, dataframe_type: type) -> DataFrame:
        """Choose the frame type ``all()`` / ``iter()`` return: ``df.open(pd.DataFrame).all()``."""
        self._open_type = dataframe_type
        return self

    def all_sync(self) -> Any:
        if self._val is not None and (self._open_type is None or isinstance(self._val, self._open_type)):
            return self._val
        from roost.types.transformers.dataframes import DataFrameTransformerEngine

        return DataFrameTransformerEngine.read(self, self._open_type)

    async def all(self) -> Any:
        return await in_thread(self.all_sync)

    def iter_sync(self) -> Iterator[Any]:
        if self._val is not None and (self._open_type is None or isinstance(self._val, self._open_type)):
            yield self._val
            return
        from roost.types.transformers.dataframes import DataFrameTransformerEngine

        yield from DataFrameTransformerEngine.read_chunks(self, self._open_type)

    async def iter(self) -> AsyncIterator[Any]:
        for chunk in await in_thread(lambda: list(self.iter_sync())):
            yield chunk

    # -- properties --------------------------------------------------------------------------------------

    @property
    def val(self) -> Any:
        """The wrapped in-memory frame (None for a stored reference)."""
        return self._val

    @property
    def metadata(self) -> dict[str, Any]:
        return dict(self._metadata)

    @property
    def literal(self) -> Literal | None:
        """The stored form, once written (None while only wrapping an in-memory frame)."""
        if self.uri is None:
            return None
        return Literal("dataframe", {"uri": self.uri, "format": self.format, "hash": self.hash})

    @property
    def is_remote(self) -> bool:
        return self.uri is not None and is_remote_uri(self.uri)
