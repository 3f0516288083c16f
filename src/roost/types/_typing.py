"""Small questions about Python type annotations, answered the same way on Python 3.10 to 3.13."""

from __future__ import annotations

import dataclasses
import inspect
import sys
import types
import typing
from typing import Any

NoneType = type(None)


def is_union(tp: Any) -> bool:
    origin = typing.get_origin(tp)
    return origin is typing.Union or origin is types.UnionType


def is_namedtuple(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, tuple) and hasattr(tp, "_fields")


def is_typeddict(tp: Any) -> bool:
    return typing.is_typeddict(tp) or (isinstance(tp, type) and issubclass(tp, dict) and hasattr(tp, "__total__"))


def is_pydantic_model(tp: Any) -> bool:
    # A class can only be a BaseModel if pydantic is already imported: never import it to find out.
    pydantic = sys.modules.get("pydantic")
    if pydantic is None or not isinstance(tp, type):
        return False
    try:
        return issubclass(tp, pydantic.BaseModel)
    except TypeError:
        return False


# TypedDict key qualifiers (``NotRequired[T]``, ``Required[T]``, ``ReadOnly[T]``): they say whether a
# key may be absent, not what its value is. Matched by name so that typing_extensions' spellings (the
# only ones on Python 3.10) count too.
_KEY_QUALIFIERS = frozenset({"Required", "NotRequired", "ReadOnly"})


def _key_qualifiers(tp: Any) -> set[str]:
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _key_qualifiers(typing.get_args(tp)[0])
    name = getattr(origin, "_name", None) if origin is not None else None
    if name in _KEY_QUALIFIERS:
        return {name} | _key_qualifiers(typing.get_args(tp)[0])
    return set()


def _strip_key_qualifiers(tp: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        base, *extras = typing.get_args(tp)
        stripped = _strip_key_qualifiers(base)
        return tp if stripped is base else typing.Annotated[(stripped, *extras)]  # type: ignore[valid-type]
    if origin is not None and getattr(origin, "_name", None) in _KEY_QUALIFIERS:
        return _strip_key_qualifiers(typing.get_args(tp)[0])
    return tp


def typeddict_fields(tp: Any) -> dict[str, Any]:
    """The value type of each key of a TypedDict, ``Annotated`` kept and key qualifiers removed.

    Which keys may be absent is ``tp.__required_keys__``'s business, not the value types'.
    """
    hints = typing.get_type_hints(tp, include_extras=True)
    return {k: _strip_key_qualifiers(h) for k, h in hints.items()}


def typeddict_required_keys(tp: Any) -> frozenset[str]:
    """The keys a value of the TypedDict ``tp`` must have.

    ``__required_keys__`` is right except where annotations are strings (``from __future__ import
    annotations``): the class cannot see a ``NotRequired`` inside a string, so the resolved hints decide.
    """
    required = set(getattr(tp, "__required_keys__", ()))
    for key, hint in typing.get_type_hints(tp, include_extras=True).items():
        qualifiers = _key_qualifiers(hint)
        if "NotRequired" in qualifiers:
            required.discard(key)
        elif "Required" in qualifiers:
            required.add(key)
    return frozenset(required)


def strip_annotated(tp: Any) -> tuple[Any, tuple[Any, ...]]:
    """``Annotated[T, a, b]`` -> ``(T, (a, b))``; anything else -> ``(tp, ())``."""
    if typing.get_origin(tp) is typing.Annotated:
        base, *extras = typing.get_args(tp)
        return base, tuple(extras)
    return tp, ()


def type_name(tp: Any) -> str:
    """A readable name: ``int``, ``list[int]``, ``mymodule.Point``, ``int | None``."""
    if tp is NoneType or tp is None:
        return "None"
    if tp is Any:
        return "typing.Any"
    if tp is inspect.Parameter.empty:
        return "<unannotated>"
    if is_union(tp):
        return " | ".join(type_name(a) for a in typing.get_args(tp))
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return type_name(typing.get_args(tp)[0])
    if origin is typing.Literal:
        return f"Literal[{', '.join(repr(a) for a in typing.get_args(tp))}]"
    if origin is not None:
        args = ", ".join("..." if a is Ellipsis else type_name(a) for a in typing.get_args(tp))
        return f"{type_name(origin)}[{args}]"
    if isinstance(tp, type):
        if tp.__module__ == "builtins":
            return tp.__qualname__
        return f"{tp.__module__}.{tp.__qualname__}"
    return repr(tp)


def qualified_name(tp: Any) -> str:
    """``module:qualname`` of a class: enough to import it again."""
    return f"{tp.__module__}:{tp.__qualname__}"


def import_qualified(name: str) -> Any:
    """The class named by ``qualified_name``, or None when it cannot be found."""
    module_name, _, qualname = name.partition(":")
    module = sys.modules.get(module_name)
    if module is None:
        try:
            module = __import__(module_name, fromlist=["_"])
        except Exception:
            return None
    obj: Any = module
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def value_type_name(value: Any) -> str:
    return type_name(type(value))


def short_repr(value: Any, limit: int = 80) -> str:
    try:
        text = repr(value)
    except Exception:
        text = f"<{value_type_name(value)}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _substitute(tp: Any, mapping: dict[Any, Any]) -> Any:
    if not mapping:
        return tp
    if isinstance(tp, typing.TypeVar):
        return mapping.get(tp, Any)
    params = getattr(tp, "__parameters__", ())
    if params:
        try:
            return tp[tuple(mapping.get(p, Any) for p in params)]
        except TypeError:
            return tp
    return tp


def typevar_mapping(tp: Any) -> tuple[Any, dict[Any, Any]]:
    """For ``Box[int]``: ``(Box, {T: int})``; for a plain class: ``(cls, {})``."""
    origin = typing.get_origin(tp)
    if origin is None:
        return tp, {}
    params = getattr(origin, "__parameters__", ())
    return origin, dict(zip(params, typing.get_args(tp)))


def field_types(tp: Any) -> tuple[type, dict[str, Any]]:
    """The class and its resolved field annotations, generic parameters substituted.

    Unparameterised TypeVars become ``Any`` (their values are pickled).
    """
    cls, mapping = typevar_mapping(tp)
    hints = typing.get_type_hints(cls, include_extras=True)
    # Unfilled TypeVars of a generic class fall back to Any.
    for param in getattr(cls, "__parameters__", ()):
        mapping.setdefault(param, Any)
    return cls, {name: _substitute(hint, mapping) for name, hint in hints.items()}


def dataclass_fields(tp: Any) -> tuple[type, list[tuple[dataclasses.Field[Any], Any]]]:
    cls, hints = field_types(tp)
    return cls, [(f, hints.get(f.name, Any)) for f in dataclasses.fields(cls)]
