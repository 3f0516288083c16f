"""The TypeEngine: finds the transformer for a Python type and converts values to literals and back.

Lookup order for a type ``T`` (first match wins):

1. ``Annotated[T, x, ...]``: a transformer among the ``x`` is used as is; otherwise ``T`` is looked up.
2. ``typing.Any`` / no annotation -> pickle.
3. The registry, by ``T`` itself, then by its origin (``list[int]`` -> ``list``). Bare ``list``,
   ``tuple``, ``set``, ``frozenset`` are not looked up there: they carry no element type (pickled, as in Flyte).
4. A registered base class of ``T`` whose transformer accepts subclasses (File, Dir, user types).
5. Structural transformers, in registration order: Union, Literal, NamedTuple, TypedDict, tuple,
   Enum, data frames, dataclass, pydantic model.
6. Pickle (logged once per type at debug level; a run warns once per task that uses it).

Transformer methods may be coroutine functions (the Flyte 2 SDK declares them async); the engine
itself is synchronous and drives such a coroutine to completion.
"""

from __future__ import annotations

import inspect
import logging
import threading
import typing
from collections.abc import Iterable
from typing import Any, Generic, TypeVar

from roost.types._sync import resolve
from roost.types._typing import NoneType, is_union, strip_annotated, type_name
from roost.types.literals import Literal, LiteralType

logger = logging.getLogger("roost")

T = TypeVar("T")


class TypeTransformerFailedError(TypeError, ValueError):
    """A value could not be converted to or from its declared type.

    Both a TypeError (a value of the wrong type) and a ValueError (a value out of range), so callers
    written against either, as the SDK allows, catch it.
    """


class TypeTransformer(Generic[T]):
    """Converts values of one Python type to literals and back.

    Subclasses implement ``to_literal``, ``to_python_value`` and ``get_literal_type``; structural
    transformers (one per family of types, such as dataclasses) also implement ``handles``.
    """

    #: A registered transformer also serves subclasses of its type when this is true.
    accepts_subclasses: bool = False
    #: None is a valid value (NoneType, unions); for every other transformer None is refused up front.
    accepts_none: bool = False
    #: The LiteralType kinds this transformer produces, for ``guess_python_type`` (default: its name).
    literal_kinds: tuple[str, ...] = ()

    def __init__(self, name: str, t: type[T] | Any):
        self._name = name
        self._t = t

    @property
    def name(self) -> str:
        return self._name

    @property
    def python_type(self) -> Any:
        return self._t

    def handles(self, python_type: Any) -> bool:
        """True for the types a structural transformer converts (never called for registered types)."""
        return False

    def get_literal_type(self, t: Any) -> LiteralType:
        return LiteralType(self._name)

    def guess_python_type(self, literal_type: LiteralType) -> Any:
        raise ValueError(f"transformer {self._name} cannot guess a Python type for {literal_type}")

    def to_literal(self, python_val: Any, python_type: Any, expected: LiteralType | None = None) -> Literal:
        raise NotImplementedError

    def to_python_value(self, lv: Literal, expected_python_type: Any) -> T:
        raise NotImplementedError

    def to_html(self, python_val: Any, expected_python_type: Any) -> str:
        """The value as HTML, for reports (default: its text, escaped)."""
        import html

        return html.escape(str(python_val))

    def assert_type(self, t: Any, v: Any) -> None:
        """Raise TypeTransformerFailedError unless ``v`` is a value of ``t`` (used by unions)."""
        if isinstance(t, type) and not isinstance(v, t):
            raise TypeTransformerFailedError(f"expected {type_name(t)}, got {type_name(type(v))}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._name!r}, {type_name(self._t)})"


def expect_kind(lv: Literal, *kinds: str) -> None:
    if lv.kind not in kinds:
        raise TypeTransformerFailedError(f"cannot read a {lv.kind!r} literal as {' or '.join(kinds)}")


class TypeEngine:
    """The registry of transformers (class-level, like the SDK's)."""

    _REGISTRY: typing.ClassVar[dict[Any, TypeTransformer[Any]]] = {}
    _STRUCTURAL: typing.ClassVar[list[TypeTransformer[Any]]] = []
    _BY_KIND: typing.ClassVar[dict[str, TypeTransformer[Any]]] = {}
    _CACHE: typing.ClassVar[dict[Any, tuple[TypeTransformer[Any], Any]]] = {}
    _PICKLE: typing.ClassVar[TypeTransformer[Any] | None] = None
    _WARNED: typing.ClassVar[set[str]] = set()
    _LOCK = threading.RLock()
    _loaded = False
    _loading = False

    @classmethod
    def _ensure_builtins(cls) -> None:
        if cls._loaded:
            return
        with cls._LOCK:
            # ``_loading``: registering the builtins calls back here on this thread (the lock is
            # re-entrant). ``_loaded`` is set only when they are all in, so another thread never
            # sees a half-filled registry: it waits on the lock instead.
            if cls._loaded or cls._loading:
                return
            cls._loading = True
            try:
                # Imported here, not at module top: the transformers import this module.
                from roost.types import transformers

                transformers.register_builtins(cls)
                cls._loaded = True
            finally:
                cls._loading = False

    @classmethod
    def register(
        cls, transformer: TypeTransformer[Any], additional_types: Iterable[Any] | None = None
    ) -> TypeTransformer[Any]:
        """Register ``transformer`` for its ``python_type`` and ``additional_types``.

        Registering a type that already has a transformer raises ValueError.
        """
        cls._ensure_builtins()
        cls._register(transformer, additional_types)
        return transformer

    @classmethod
    def _register(cls, transformer: TypeTransformer[Any], additional_types: Iterable[Any] | None = None) -> None:
        with cls._LOCK:
            types_ = [transformer.python_type, *(additional_types or ())]
            for t in types_:
                if t in cls._REGISTRY:
                    raise ValueError(
                        f"type {type_name(t)} already has a transformer ({cls._REGISTRY[t].name}); "
                        f"cannot register {transformer.name} for it"
                    )
            for t in types_:
                cls._REGISTRY[t] = transformer
            cls._index_kinds(transformer)
            cls._CACHE.clear()

    @classmethod
    def _index_kinds(cls, transformer: TypeTransformer[Any]) -> None:
        for kind in transformer.literal_kinds or (transformer.name,):
            cls._BY_KIND.setdefault(kind, transformer)

    @classmethod
    def _register_structural(cls, transformer: TypeTransformer[Any]) -> None:
        with cls._LOCK:
            cls._STRUCTURAL.append(transformer)
            cls._index_kinds(transformer)
            cls._CACHE.clear()

    @classmethod
    def _register_fallback(cls, transformer: TypeTransformer[Any]) -> None:
        cls._PICKLE = transformer
        cls._index_kinds(transformer)

    @classmethod
    def get_transformer(cls, python_type: Any) -> TypeTransformer[Any]:
        return cls._resolve(python_type)[0]

    @classmethod
    def _resolve(cls, python_type: Any) -> tuple[TypeTransformer[Any], Any]:
        """The transformer for ``python_type`` and the type it is given (Annotated stripped), cached."""
        try:
            return cls._CACHE[python_type]
        except KeyError:
            pass
        except TypeError:  # unhashable annotation metadata: look it up every time
            return cls._lookup(python_type), strip_annotated(python_type)[0]
        entry = cls._lookup(python_type), strip_annotated(python_type)[0]
        cls._CACHE[python_type] = entry
        return entry

    @classmethod
    def _lookup(cls, python_type: Any) -> TypeTransformer[Any]:
        cls._ensure_builtins()
        tp, extras = strip_annotated(python_type)
        for extra in extras:
            if isinstance(extra, TypeTransformer):
                return extra
        if extras:
            return cls.get_transformer(tp)
        if tp is Any or tp is inspect.Parameter.empty or tp is object:
            return cls._fallback(tp)
        if tp is None:
            tp = NoneType
        if tp not in (list, tuple, set, frozenset):
            found = cls._registered(tp)
            if found is not None:
                return found
            origin = typing.get_origin(tp)
            if origin is not None and not is_union(tp):
                found = cls._registered(origin)
                if found is not None:
                    return found
        klass = typing.get_origin(tp) or tp
        if isinstance(klass, type):
            for base in klass.__mro__[1:]:
                found = cls._registered(base)
                if found is not None and found.accepts_subclasses:
                    return found
        for transformer in cls._STRUCTURAL:
            if transformer.handles(tp):
                return transformer
        return cls._fallback(tp)

    @classmethod
    def _registered(cls, tp: Any) -> TypeTransformer[Any] | None:
        try:
            return cls._REGISTRY.get(tp)
        except TypeError:
            return None

    @classmethod
    def _fallback(cls, tp: Any) -> TypeTransformer[Any]:
        # Debug level: the engine runs in every worker process, so a warning here would repeat once per
        # process, i.e. per call. A run warns once per task instead (roost.types.task_io.pickled_parts).
        name = type_name(tp)
        if name not in cls._WARNED:
            cls._WARNED.add(name)
            logger.debug(
                "roost has no transformer for type %s: its values will be pickled (cloudpickle), "
                "which ties them to this Python version and code",
                name,
            )
        assert cls._PICKLE is not None
        return cls._PICKLE

    # Transformers see the type without its Annotated wrapper (the metadata only picks the transformer).

    @classmethod
    def to_literal_type(cls, python_type: Any) -> LiteralType:
        transformer, tp = cls._resolve(python_type)
        return transformer.get_literal_type(tp)

    @classmethod
    def to_literal(cls, python_val: Any, python_type: Any, expected: LiteralType | None = None) -> Literal:
        transformer, tp = cls._resolve(python_type)
        if python_val is None and not _accepts_none(transformer, tp):
            raise TypeTransformerFailedError(f"None is not a valid value of the non-Optional type {type_name(tp)}")
        return resolve(transformer.to_literal(python_val, tp, expected))

    @classmethod
    def to_python_value(cls, lv: Literal, expected_python_type: Any) -> Any:
        transformer, tp = cls._resolve(expected_python_type)
        return resolve(transformer.to_python_value(lv, tp))

    @classmethod
    def to_html(cls, python_val: Any, expected_python_type: Any) -> str:
        """``python_val`` as HTML: by a ``Renderable`` in ``Annotated[T, renderer]``, else its transformer."""
        _, extras = strip_annotated(expected_python_type)
        for extra in extras:
            to_html = getattr(extra, "to_html", None)
            if callable(to_html) and not isinstance(extra, type):
                return str(to_html(python_val))
        transformer, tp = cls._resolve(expected_python_type)
        return transformer.to_html(python_val, tp)

    @classmethod
    def guess_python_type(cls, literal_type: LiteralType) -> Any:
        cls._ensure_builtins()
        transformer = cls._BY_KIND.get(literal_type.kind)
        if transformer is None:
            raise ValueError(f"no transformer knows literal type {literal_type}")
        return transformer.guess_python_type(literal_type)


def _accepts_none(transformer: TypeTransformer[Any], python_type: Any) -> bool:
    if transformer.accepts_none:
        return True
    # Any (or no annotation) admits None; a pickled concrete type such as set[int] does not.
    return transformer is TypeEngine._PICKLE and python_type in (Any, inspect.Parameter.empty, object)
