"""Literals to plain Python values without the types that produced them (``io.literals_to_native``).

A run read back by the CLI, or by ``Run.get`` in another process, has only the literals: the task's
code, and so its dataclasses, enums and NamedTuples, is not loaded. Every literal kind is decoded from
its tag alone, into builtins (records become dicts, enums their member names) and roost's own
File / Dir / DataFrame references. Nothing here raises: this is for showing and inspecting values, and
one unreadable member must not hide the rest of a run's inputs or outputs.
"""

from __future__ import annotations

import datetime
import sys
from decimal import Decimal
from typing import Any

from roost.types._typing import NoneType, is_namedtuple
from roost.types.dataframe import DataFrame
from roost.types.dir import Dir
from roost.types.engine import TypeEngine
from roost.types.file import File
from roost.types.literals import Literal

# Kinds whose payload decodes the same way whatever type produced it: the engine's own transformer for
# the type named here does it, so this module cannot drift from the typed path. ``vec`` / ``vmap``
# record their element kind in ``meta``, which is all the list / dict transformers read for them; File,
# Dir and DataFrame come back as references (nothing is downloaded or read).
_SELF_DESCRIBING: dict[str, Any] = {
    "none": NoneType,
    "bool": bool,
    "int": int,
    "float": float,
    "str": str,
    "bytes": bytes,
    "decimal": Decimal,
    "datetime": datetime.datetime,
    "date": datetime.date,
    "duration": datetime.timedelta,
    "vec": list[Any],
    "vmap": dict[str, Any],
    "file": File,
    "dir": Dir,
    "dataframe": DataFrame,
}


def to_native(lit: Literal) -> Any:
    """``lit`` as a plain value; a member that cannot be decoded becomes a ``<...>`` placeholder string."""
    try:
        return _decode(lit)
    except Exception as e:  # a malformed payload or a kind from a newer roost: say so, in place
        return f"<unreadable {getattr(lit, 'kind', '?')} value: {type(e).__name__}>"


def _decode(lit: Literal) -> Any:
    kind, value = lit.kind, lit.value
    tp = _SELF_DESCRIBING.get(kind)
    if tp is not None:
        return TypeEngine.to_python_value(lit, tp)
    if kind == "list":
        return [to_native(v) for v in value]
    if kind == "tuple":
        items = tuple(to_native(v) for v in value)
        fields = _namedtuple_fields(lit.meta, len(items))
        return dict(zip(fields, items)) if fields else items
    if kind in ("map", "record"):
        return {k: to_native(v) for k, v in value.items()}
    if kind == "pairs":
        return _pairs(value)
    if kind == "union":
        return to_native(value)
    if kind == "enum":
        # Enum members and Literal choices travel by name; the name is what a reader without the class
        # can show, and what ``roost run`` accepts back.
        return to_native(value) if isinstance(value, Literal) else value
    if kind == "msgpack":
        return _copy_native(value)
    if kind == "pickle":
        return _unpickle(lit)
    return f"<unknown literal kind {kind!r}>"


def _namedtuple_fields(meta: str, count: int) -> tuple[str, ...]:
    """Field names of the NamedTuple named ``meta`` (``module:QualName``), if this process has it loaded.

    The wire form of a NamedTuple is a tuple literal plus its class name, without field names. Only
    modules already in ``sys.modules`` are consulted: importing the task's module here would run user
    code merely to display a value. Otherwise (and for plain tuples) the value stays a tuple.
    """
    module_name, _, qualname = meta.partition(":")
    obj: Any = sys.modules.get(module_name) if qualname else None
    for part in qualname.split(".") if obj is not None else ():
        obj = getattr(obj, part, None)
    if is_namedtuple(obj) and len(obj._fields) == count:
        return tuple(obj._fields)
    return ()


def _pairs(value: list[tuple[Literal, Literal]]) -> dict[Any, Any] | list[tuple[Any, Any]]:
    """A ``dict[K, V]`` with non-str keys, as a dict when its decoded keys allow it.

    Decoding can make keys unhashable (a frozen dataclass key becomes a dict) or make distinct keys equal
    (two unloadable pickled keys share a placeholder); a dict would then fail or silently drop entries,
    so the entries come back as a list of ``(key, value)`` pairs instead.
    """
    pairs = [(to_native(k), to_native(v)) for k, v in value]
    try:
        out = dict(pairs)
    except TypeError:
        return pairs
    return out if len(out) == len(pairs) else pairs


def _copy_native(value: Any) -> Any:
    # Copied so that changing the returned value cannot change the (frozen) literal it came from.
    if isinstance(value, dict):
        return {k: _copy_native(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy_native(v) for v in value]
    return value


def _unpickle(lit: Literal) -> Any:
    """The unpickled value, or ``<pickled TypeName>`` when it cannot be rebuilt in this process.

    Pickles refer to their classes by module and name, so a value of a class from the task's code fails
    to load wherever that code is not importable (ModuleNotFoundError, AttributeError, or anything a
    custom ``__setstate__`` raises); cloudpickle itself may be missing. None of that is the reader's
    problem, so every failure gives the placeholder.
    """
    try:
        import cloudpickle  # imported here: most runs never hold a pickled value

        return cloudpickle.loads(lit.value)
    except Exception:
        return f"<pickled {lit.meta or 'value'}>"
