"""DataFrameTransformerEngine: flyte.io.DataFrame, pandas DataFrames, pyarrow Tables and registered types.

Frames are written (parquet by default) into the content-addressed blob store; the literal holds only
``{uri, format, hash}``. Built-in handlers load when a pandas or pyarrow type is first seen, so neither
library is imported by roost unless the program uses it.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib.util
import os
import tempfile
import typing
import uuid
from collections.abc import Iterator
from typing import IO, Any

from roost.store.blobs import local_path_of, url_to_fs
from roost.types._references import needs_upload, store
from roost.types._typing import type_name
from roost.types.dataframe import PARQUET, DataFrame, DataFrameDecoder, DataFrameEncoder, HashFunction
from roost.types.engine import TypeEngine, TypeTransformer, TypeTransformerFailedError, expect_kind
from roost.types.literals import Literal, LiteralType

_Handler = DataFrameEncoder | DataFrameDecoder

# Set while a run's outputs are read for its caller with ``preserve_original_types=False``: frames come
# back as flyte.io.DataFrame references, as the SDK's Run.outputs() gives them, whatever was declared.
_AS_REFERENCES: contextvars.ContextVar[bool] = contextvars.ContextVar("roost_frames_as_references", default=False)


@contextlib.contextmanager
def frames_as_references(enabled: bool = True) -> Iterator[None]:
    """Within the block, values converted back from frame literals are ``DataFrame`` references."""
    token = _AS_REFERENCES.set(enabled)
    try:
        yield
    finally:
        _AS_REFERENCES.reset(token)


class DataFrameTransformerEngine(TypeTransformer[DataFrame]):
    """The transformer for every frame type, and the registry of their encoders and decoders."""

    ENCODERS: typing.ClassVar[dict[tuple[type, str], DataFrameEncoder]] = {}
    DECODERS: typing.ClassVar[dict[tuple[type, str], DataFrameDecoder]] = {}
    DEFAULT_FORMATS: typing.ClassVar[dict[type, str]] = {}
    #: Renderers (``flyte.types.Renderable``) by frame type, for ``to_html``.
    Renderers: typing.ClassVar[dict[type, Any]] = {}
    _LOADED: typing.ClassVar[set[str]] = set()

    def __init__(self) -> None:
        super().__init__("dataframe", DataFrame)

    # -- registry ----------------------------------------------------------------------------------------

    @classmethod
    def register(
        cls,
        handler: _Handler,
        default_for_type: bool = False,
        override: bool = False,
        default_format_for_type: bool = False,
        default_storage_for_type: bool = False,
    ) -> None:
        """Add an encoder or decoder. The same (type, format) twice -> ValueError unless ``override``."""
        if isinstance(handler, DataFrameEncoder):
            registry: dict[tuple[type, str], Any] = cls.ENCODERS
        elif isinstance(handler, DataFrameDecoder):
            registry = cls.DECODERS
        else:
            raise TypeError(f"expected a DataFrameEncoder or DataFrameDecoder, got {type(handler).__name__}")
        key = (handler.python_type, handler.supported_format)
        if key in registry and not override:
            raise ValueError(
                f"a {type(handler).__name__.lower()} for {type_name(key[0])} in format {key[1]!r} is already "
                "registered (pass override=True to replace it)"
            )
        registry[key] = handler
        if default_for_type or default_format_for_type or handler.python_type not in cls.DEFAULT_FORMATS:
            cls.DEFAULT_FORMATS[handler.python_type] = handler.supported_format
        TypeEngine._CACHE.clear()  # a type that fell back to pickle may now have a handler

    @classmethod
    def register_renderer(cls, python_type: type, renderer: Any) -> None:
        """Render frames of ``python_type`` (and its subclasses) with ``renderer.to_html(frame)``."""
        cls.Renderers[python_type] = renderer

    def to_html(self, python_val: Any, expected_python_type: Any) -> str:
        """A frame as HTML: by its registered renderer, else its own ``to_html`` (pandas: first rows)."""
        import html

        frame = python_val.val if isinstance(python_val, DataFrame) and python_val.val is not None else python_val
        for klass in type(frame).__mro__:
            if klass in self.Renderers:
                return str(self.Renderers[klass].to_html(frame))
        if isinstance(frame, DataFrame):  # a stored reference: say what it is rather than read it all
            return html.escape(f"DataFrame(uri={frame.uri!r}, format={frame.format!r})")
        own = getattr(frame, "to_html", None)
        if callable(own):
            return str(own(max_rows=10, max_cols=100)) if type(frame).__module__.startswith("pandas") else str(own())
        return f"<pre>{html.escape(str(frame))}</pre>"

    @classmethod
    def _load_builtins_for(cls, tp: Any) -> None:
        module = (getattr(tp, "__module__", "") or "").split(".")[0]
        if module not in ("pandas", "pyarrow") or module in cls._LOADED:
            return
        cls._LOADED.add(module)
        from roost.types import dataframe_handlers

        handlers = dataframe_handlers.pandas_handlers() if module == "pandas" else dataframe_handlers.arrow_handlers()
        for handler in handlers:
            key = (handler.python_type, handler.supported_format)
            if key not in (cls.ENCODERS if isinstance(handler, DataFrameEncoder) else cls.DECODERS):
                cls.register(handler)

    @classmethod
    def _handler(cls, registry: dict[tuple[type, str], Any], tp: type, fmt: str | None, what: str) -> Any:
        cls._load_builtins_for(tp)
        for klass in tp.__mro__ if isinstance(tp, type) else (tp,):
            chosen = fmt or cls.DEFAULT_FORMATS.get(klass, PARQUET)
            if (klass, chosen) in registry:
                return registry[(klass, chosen)]
        raise TypeTransformerFailedError(f"no DataFrame {what} for {type_name(tp)} in format {fmt or PARQUET!r}")

    def handles(self, python_type: Any) -> bool:
        if not isinstance(python_type, type):
            return False
        if issubclass(python_type, DataFrame):
            return True
        self._load_builtins_for(python_type)
        return any(issubclass(python_type, t) for t, _ in (*self.ENCODERS, *self.DECODERS))

    # -- writing and reading -----------------------------------------------------------------------------

    @classmethod
    def write(
        cls, frame: Any, columns: list[str] | None = None, destination: str | None = None, hash_method: Any = None
    ) -> DataFrame:
        """Encode ``frame`` and store it; returns the stored reference."""
        encoder: DataFrameEncoder = cls._handler(cls.ENCODERS, type(frame), None, "encoder")
        blobs = store()
        # In a local store the temporary file sits beside the blobs, so storing it is a rename.
        tmp_dir = blobs.root if blobs.is_local and not destination else tempfile.gettempdir()
        os.makedirs(tmp_dir, exist_ok=True)
        tmp = os.path.join(tmp_dir, f".tmp-{uuid.uuid4().hex}.{encoder.supported_format}")
        try:
            with open(tmp, "wb") as f:
                encoder.encode(frame, f, columns)
            if destination:
                uri, sha = blobs.put_file_at(tmp, destination)
            else:
                uri, sha = blobs.put_file(tmp, move=True)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        if isinstance(hash_method, str):
            content_hash = hash_method
        elif callable(hash_method):
            content_hash = (
                HashFunction(hash_method)(frame) if not isinstance(hash_method, HashFunction) else hash_method(frame)
            )
        else:
            content_hash = sha
        return DataFrame(uri=uri, format=encoder.supported_format, hash=content_hash)

    @classmethod
    @contextlib.contextmanager
    def _source(cls, df: DataFrame) -> Iterator[IO[bytes] | str]:
        if df.uri is None:
            raise ValueError("this DataFrame wraps no stored data")
        fs, path = url_to_fs(df.uri)
        if fs.isdir(path):  # a partitioned dataset: decoders take its path
            yield df.uri
            return
        with fs.open(path, "rb") as f:
            yield f

    @classmethod
    def _read_type(cls, frame_type: Any) -> Any:
        if frame_type is not None:
            return frame_type
        if importlib.util.find_spec("pandas") is not None:
            import pandas

            return pandas.DataFrame
        import pyarrow

        return pyarrow.Table

    @classmethod
    def read(cls, df: DataFrame, frame_type: Any = None) -> Any:
        decoder: DataFrameDecoder = cls._handler(cls.DECODERS, cls._read_type(frame_type), df.format or None, "decoder")
        with cls._source(df) as source:
            return decoder.decode(source, df._columns)  # type: ignore[arg-type]

    @classmethod
    def read_chunks(cls, df: DataFrame, frame_type: Any = None) -> Iterator[Any]:
        decoder: DataFrameDecoder = cls._handler(cls.DECODERS, cls._read_type(frame_type), df.format or None, "decoder")
        with cls._source(df) as source:
            yield from decoder.iter(source, df._columns)  # type: ignore[arg-type]

    @classmethod
    def _stored(cls, df: DataFrame) -> DataFrame:
        """``df`` with its data in the blob store (written now if it only wraps a frame or a local path)."""
        if df._val is not None and df.hash is None:  # a wrapped frame not written yet (to its uri, if given)
            stored = cls.write(df._val, df._columns, df.uri)
        elif df.uri is None:
            raise TypeTransformerFailedError("this DataFrame holds neither data nor a uri")
        elif needs_upload(df.uri, df.hash):
            path = local_path_of(df.uri)
            if os.path.isdir(path):
                uri, digest = store().put_dir(path)
            elif os.path.isfile(path):
                uri, digest = store().put_file(path)
            else:
                raise ValueError(f"file not found: {path}")
            stored = DataFrame(uri=uri, format=df.format or PARQUET, hash=digest)
        else:
            return df
        # Remember where the data went, so passing the same object again does not write it again.
        df.uri, df.format, df.hash = stored.uri, stored.format, stored.hash
        return df

    # -- TypeTransformer ---------------------------------------------------------------------------------

    def get_literal_type(self, t: Any) -> LiteralType:
        return LiteralType("dataframe", name=type_name(t))

    def to_literal(self, python_val: Any, python_type: Any, expected: LiteralType | None = None) -> Literal:
        if isinstance(python_val, DataFrame):
            df = self._stored(python_val)
        else:
            declared = python_type if isinstance(python_type, type) else type(python_val)
            if not issubclass(declared, DataFrame) and not isinstance(python_val, declared):
                raise TypeTransformerFailedError(f"expected {type_name(declared)}, got {type_name(type(python_val))}")
            if not self.handles(type(python_val)):
                raise TypeTransformerFailedError(f"expected a data frame, got {type_name(type(python_val))}")
            df = self.write(python_val)
        return Literal("dataframe", {"uri": df.uri, "format": df.format, "hash": df.hash})

    def to_python_value(self, lv: Literal, expected_python_type: Any) -> Any:
        expect_kind(lv, "dataframe")
        payload = lv.value
        df = DataFrame(uri=payload["uri"], format=payload.get("format", ""), hash=payload.get("hash"))
        if isinstance(expected_python_type, type) and issubclass(expected_python_type, DataFrame):
            if expected_python_type is not DataFrame:
                return expected_python_type(uri=df.uri, format=df.format, hash=df.hash)
            return df
        if _AS_REFERENCES.get():
            return df
        return self.read(df, expected_python_type)

    def guess_python_type(self, literal_type: LiteralType) -> Any:
        return DataFrame
