"""What File, Dir and DataFrame share: the blob store in force, hashing options, pydantic support."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

from roost.store.blobs import BlobStore, blob_store, is_remote_uri
from roost.store.store_config import current
from roost.types._sync import in_thread


@runtime_checkable
class HashMethod(Protocol):
    """An accumulator fed the bytes of a file: ``update(chunk)`` then ``result()`` (or ``hexdigest()``)."""

    def update(self, data: bytes) -> Any: ...


def store() -> BlobStore:
    """The blob store of the configuration in force here."""
    return blob_store(current().raw_data_url)


def is_in_store(uri: str) -> bool:
    """True when ``uri`` already lies in the current blob store (nothing to upload)."""
    return store().contains(uri)


def needs_upload(uri: str, content_hash: str | None) -> bool:
    """A local path outside the store must be copied in before it can cross a process boundary."""
    return not is_remote_uri(uri) and not is_in_store(uri) and content_hash is None


def hash_with(method: Any, path: str) -> str | None:
    """The hash a user asked for: a precomputed string, or an accumulator fed the file's bytes."""
    if method is None:
        return None
    if isinstance(method, str):
        return method
    if isinstance(method, HashMethod):
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                method.update(chunk)
        for finish in ("result", "hexdigest"):
            fn = getattr(method, finish, None)
            if callable(fn):
                return str(fn())
        raise TypeError(f"hash method {method!r} has neither result() nor hexdigest()")
    raise TypeError(f"hash_method must be a str or an object with update(bytes), got {type(method).__name__}")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def basename(path: str) -> str:
    return os.path.basename(path.rstrip("/"))


def pydantic_reference_schema(cls: type, fields: tuple[str, ...]) -> Any:
    """A pydantic-core schema that accepts an instance of ``cls``, a dict of its fields, or a path string.

    It lets users put File / Dir / DataFrame inside their pydantic models without pydantic being a
    dependency of roost: pydantic calls this only when it is already imported.
    """
    from pydantic_core import core_schema

    def validate(value: Any) -> Any:
        if isinstance(value, cls):
            return value
        if isinstance(value, dict):
            return cls(**{k: v for k, v in value.items() if k in fields})
        if isinstance(value, (str, os.PathLike)):
            return cls(os.fspath(value))
        raise ValueError(f"expected a {cls.__name__}, a dict of its fields or a path, got {type(value).__name__}")

    def serialize(value: Any) -> dict[str, Any]:
        return {f: getattr(value, f) for f in fields}

    return core_schema.no_info_plain_validator_function(
        validate, serialization=core_schema.plain_serializer_function_ser_schema(serialize)
    )


def pydantic_reference_json_schema(cls: type, fields: tuple[str, ...]) -> dict[str, Any]:
    return {"type": "object", "title": cls.__name__, "properties": {f: {"type": "string"} for f in fields}}


class PydanticReference:
    """Lets a reference type stand in users' pydantic models: validated from an instance, a dict of
    ``pydantic_fields`` or a path, and serialized as that dict."""

    pydantic_fields: ClassVar[tuple[str, ...]]

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        return pydantic_reference_schema(cls, cls.pydantic_fields)

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: Any, handler: Any) -> dict[str, Any]:
        return pydantic_reference_json_schema(cls, cls.pydantic_fields)


@dataclass
class BlobReference(PydanticReference):
    """What a File and a Dir are: a path or URL, a display name, a format and a content hash.

    Subclasses give ``exists_sync`` and ``download_sync``; the coroutines run them in a thread.
    """

    pydantic_fields = ("path", "name", "format", "hash")

    path: str
    name: str | None = None
    format: str = ""
    hash: str | None = None

    def __post_init__(self) -> None:
        self.path = os.fspath(self.path)
        if self.name is None:
            self.name = basename(self.path)

    @property
    def is_remote(self) -> bool:
        return is_remote_uri(self.path)

    def exists_sync(self) -> bool:
        raise NotImplementedError

    async def exists(self) -> bool:
        return await in_thread(self.exists_sync)

    def download_sync(self, local_path: str | os.PathLike[str] | None = None) -> str:
        raise NotImplementedError

    async def download(self, local_path: str | os.PathLike[str] | None = None) -> str:
        return await in_thread(self.download_sync, local_path)
