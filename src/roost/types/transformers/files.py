"""File and Dir: the literal holds the reference ``{path, name, format, hash}``, never the bytes.

A File or Dir pointing at a local path outside the blob store is copied into the store when it is
converted (it is about to cross a process boundary, and the run must stay readable after the local
file changes); one already in the store, or remote, passes as it is.
"""

from __future__ import annotations

import os
import typing
from typing import Any

from roost.store.blobs import local_path_of
from roost.types._references import needs_upload, store
from roost.types._typing import type_name
from roost.types.dir import Dir
from roost.types.engine import TypeTransformer, TypeTransformerFailedError, expect_kind
from roost.types.file import File
from roost.types.literals import Literal, LiteralType


def _payload(ref: File[Any] | Dir[Any]) -> dict[str, Any]:
    return {"path": ref.path, "name": ref.name, "format": ref.format, "hash": ref.hash}


class _ReferenceTransformer(TypeTransformer[Any]):
    kind = ""
    accepts_subclasses = True

    def get_literal_type(self, t: Any) -> LiteralType:
        args = typing.get_args(t)
        fmt = args[0] if args and isinstance(args[0], str) else ""
        return LiteralType(self.kind, names=(fmt,) if fmt else ())

    def _cls(self, python_type: Any) -> type:
        cls = typing.get_origin(python_type) or python_type
        return cls if isinstance(cls, type) and issubclass(cls, self.python_type) else self.python_type

    def to_literal(self, python_val: Any, python_type: Any, expected: Any = None) -> Literal:
        if not isinstance(python_val, self.python_type):
            raise TypeTransformerFailedError(
                f"expected {type_name(self.python_type)}, got {type_name(type(python_val))}"
            )
        if needs_upload(python_val.path, python_val.hash):
            python_val = self._upload(python_val)
        return Literal(self.kind, _payload(python_val))

    def _upload(self, ref: Any) -> Any:
        raise NotImplementedError

    def to_python_value(self, lv: Literal, expected_python_type: Any) -> Any:
        expect_kind(lv, self.kind)
        v = lv.value
        return self._cls(expected_python_type)(
            path=v["path"], name=v.get("name"), format=v.get("format", ""), hash=v.get("hash")
        )

    def guess_python_type(self, literal_type: LiteralType) -> Any:
        return self.python_type


class FileTransformer(_ReferenceTransformer):
    kind = "file"

    def __init__(self) -> None:
        super().__init__("file", File)

    def _upload(self, ref: File[Any]) -> File[Any]:
        path = local_path_of(ref.path)
        if not os.path.isfile(path):
            raise ValueError(f"file not found: {path}")
        uri, sha = store().put_file(path)
        return File(path=uri, name=ref.name, format=ref.format, hash=sha)


class DirTransformer(_ReferenceTransformer):
    kind = "dir"

    def __init__(self) -> None:
        super().__init__("dir", Dir)

    def _upload(self, ref: Dir[Any]) -> Dir[Any]:
        if ref.is_empty:
            return ref  # the sentinel names no directory: nothing to copy
        path = local_path_of(ref.path)
        if not os.path.isdir(path):
            raise ValueError(f"directory not found: {path}")
        uri, digest = store().put_dir(path)
        return Dir(path=uri, name=ref.name, format=ref.format, hash=digest)
