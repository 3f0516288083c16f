"""JSON schemas for task interfaces (used by ``roost run --help`` and input forms)."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import inspect
import typing
from decimal import Decimal
from typing import Any

_PRIMITIVES: dict[Any, dict[str, Any]] = {
    int: {"type": "integer"},
    float: {"type": "number"},
    str: {"type": "string"},
    bool: {"type": "boolean"},
    bytes: {"type": "string", "contentEncoding": "base64"},
    Decimal: {"type": "string", "format": "decimal"},
    datetime.datetime: {"type": "string", "format": "date-time"},
    datetime.date: {"type": "string", "format": "date"},
    datetime.timedelta: {"type": "string", "format": "duration"},
    type(None): {"type": "null"},
}


def type_schema(tp: Any) -> dict[str, Any]:
    """The JSON schema of values of Python type ``tp`` (``{}`` when anything goes)."""
    if tp is Any or tp is inspect.Parameter.empty:
        return {}
    if tp in _PRIMITIVES:
        return dict(_PRIMITIVES[tp])
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Annotated:
        return type_schema(args[0])
    if origin is typing.Literal:
        return {"enum": list(args)}
    if origin is typing.Union or (origin is not None and getattr(origin, "__name__", "") == "UnionType"):
        return {"anyOf": [type_schema(a) for a in args]}
    if origin in (list, set, frozenset) or tp in (list, set, frozenset):
        schema: dict[str, Any] = {"type": "array"}
        if args:
            schema["items"] = type_schema(args[0])
        return schema
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return {"type": "array", "items": type_schema(args[0])}
        return {"type": "array", "prefixItems": [type_schema(a) for a in args], "minItems": len(args)}
    if origin is dict or tp is dict:
        schema = {"type": "object"}
        if len(args) == 2:
            schema["additionalProperties"] = type_schema(args[1])
        return schema
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return {"type": "string", "enum": [m.name for m in tp], "title": tp.__name__}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        fields = dataclasses.fields(tp)
        return {
            "type": "object",
            "title": tp.__name__,
            "properties": {f.name: type_schema(hints.get(f.name, Any)) for f in fields},
            "required": [
                f.name for f in fields if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            ],
        }
    schema_fn = getattr(tp, "model_json_schema", None)  # pydantic models describe themselves
    if callable(schema_fn):
        return schema_fn()
    return {"title": getattr(tp, "__name__", repr(tp))}


def interface_schema(interface: Any) -> dict[str, Any]:
    """The schema of a task's inputs: one property per input, ``required`` = inputs without defaults.

    An input without an annotation is described as a string, as the platform does.
    """
    properties: dict[str, Any] = {}
    for name, (tp, default) in interface.inputs.items():
        prop = {"type": "string"} if name in interface.unannotated else type_schema(tp)
        if default is not inspect.Parameter.empty and _json_safe(default):
            prop["default"] = default
        properties[name] = prop
    return {"type": "object", "properties": properties, "required": list(interface.required_inputs)}


def _json_safe(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))
