"""JSON schemas for task interfaces (used by ``roost run --help`` and input forms).

The schema describes what a person types: the command-line / JSON form of ``cli_values`` (File, Dir
and DataFrame as paths, datetimes as ISO strings, Enums by member name, bytes as UTF-8 text).
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import inspect
import threading
import typing
from decimal import Decimal
from typing import Any

from roost.types._typing import (
    NoneType,
    field_types,
    is_namedtuple,
    is_pydantic_model,
    is_typeddict,
    is_union,
    strip_annotated,
    typeddict_required_keys,
)

_PRIMITIVES: dict[Any, dict[str, Any]] = {
    int: {"type": "integer"},
    float: {"type": "number"},
    str: {"type": "string"},
    bool: {"type": "boolean"},
    bytes: {"type": "string", "format": "bytes"},
    Decimal: {"type": "string", "format": "decimal"},
    datetime.datetime: {"type": "string", "format": "date-time"},
    datetime.date: {"type": "string", "format": "date"},
    datetime.timedelta: {"type": "string", "format": "duration"},
    NoneType: {"type": "null"},
}

_stack = threading.local()


def _reference_schema(tp: Any) -> dict[str, Any] | None:
    """File / Dir / DataFrame (and pandas / arrow frames) are given as a path or URL."""
    cls = typing.get_origin(tp) or tp
    if not isinstance(cls, type):
        return None
    from roost.types.dataframe import DataFrame
    from roost.types.dir import Dir
    from roost.types.file import File

    for base, title in ((File, "File"), (Dir, "Dir"), (DataFrame, "DataFrame")):
        if issubclass(cls, base):
            return {"type": "string", "format": "uri-reference", "title": title}
    module = (cls.__module__ or "").split(".")[0]
    if module in ("pandas", "pyarrow") and cls.__name__ in ("DataFrame", "Table"):
        return {"type": "string", "format": "uri-reference", "title": "DataFrame"}
    return None


def _object(title: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "title": title, "properties": properties, "required": required}


def type_schema(tp: Any) -> dict[str, Any]:
    """The JSON schema of values of Python type ``tp`` (``{}`` when anything goes)."""
    tp, _ = strip_annotated(tp)
    if tp is Any or tp is inspect.Parameter.empty or tp is object:
        return {}
    if tp is None:
        tp = NoneType
    if tp in _PRIMITIVES:
        return dict(_PRIMITIVES[tp])
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Literal:
        return {"enum": list(args)}
    if is_union(tp):
        return {"anyOf": [type_schema(a) for a in args]}
    reference = _reference_schema(tp)
    if reference is not None:
        return reference
    if origin in (list, set, frozenset) or tp in (list, set, frozenset):
        schema: dict[str, Any] = {"type": "array"}
        if args:
            schema["items"] = type_schema(args[0])
        if origin in (set, frozenset) or tp in (set, frozenset):
            schema["uniqueItems"] = True
        return schema
    if is_namedtuple(tp):
        hints = typing.get_type_hints(tp)
        return _object(
            tp.__name__,
            {f: type_schema(hints.get(f, Any)) for f in tp._fields},
            [f for f in tp._fields if f not in getattr(tp, "_field_defaults", {})],
        )
    if origin is tuple or tp is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return {"type": "array", "items": type_schema(args[0])}
        if not args:
            return {"type": "array"}
        return {
            "type": "array",
            "prefixItems": [type_schema(a) for a in args],
            "minItems": len(args),
            "maxItems": len(args),
        }
    if is_typeddict(tp):
        hints = typing.get_type_hints(tp)
        required = sorted(typeddict_required_keys(tp))
        return _object(tp.__name__, {k: type_schema(h) for k, h in hints.items()}, required)
    if origin is dict or tp is dict:
        schema = {"type": "object"}
        if len(args) == 2:
            schema["additionalProperties"] = type_schema(args[1])
        return schema
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return {"type": "string", "enum": [m.name for m in tp], "title": tp.__name__}
    cls = origin or tp
    if isinstance(cls, type) and dataclasses.is_dataclass(cls):
        return _dataclass_schema(tp, cls)
    if is_pydantic_model(tp):
        return tp.model_json_schema()  # type: ignore[no-any-return]
    return {"title": getattr(tp, "__name__", repr(tp))}


def _dataclass_schema(tp: Any, cls: type) -> dict[str, Any]:
    building: set[Any] = getattr(_stack, "types", None) or set()
    _stack.types = building
    if cls in building:  # a dataclass that contains itself
        return {"type": "object", "title": cls.__name__}
    building.add(cls)
    try:
        try:
            _, hints = field_types(tp)
        except (NameError, TypeError):
            hints = {}
        fields = dataclasses.fields(cls)
        return _object(
            cls.__name__,
            {f.name: type_schema(hints.get(f.name, Any)) for f in fields if f.init},
            [
                f.name
                for f in fields
                if f.init and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            ],
        )
    finally:
        building.discard(cls)


def interface_schema(interface: Any) -> dict[str, Any]:
    """The schema of a task's inputs: one property per input, ``required`` = inputs without defaults.

    An input without an annotation is described as a string, as the platform does.
    """
    properties: dict[str, Any] = {}
    for name, (tp, default) in interface.inputs.items():
        prop = {"type": "string"} if name in interface.unannotated else type_schema(tp)
        if default is not inspect.Parameter.empty:
            json_default = _json_default(default)
            if json_default is not _NO_DEFAULT:
                prop["default"] = json_default
        properties[name] = prop
    return {"type": "object", "properties": properties, "required": interface.required_inputs()}


_NO_DEFAULT = object()


def _json_default(value: Any) -> Any:
    """A default as JSON, when it has an obvious JSON form; otherwise it is left out of the schema."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (list, tuple)):
        items = [_json_default(v) for v in value]
        return _NO_DEFAULT if any(i is _NO_DEFAULT for i in items) else items
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        entries = {k: _json_default(v) for k, v in value.items()}
        return _NO_DEFAULT if any(v is _NO_DEFAULT for v in entries.values()) else entries
    return _NO_DEFAULT
