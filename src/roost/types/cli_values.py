"""Command-line text to typed values, for ``roost run FILE TASK --x VALUE``.

Scalars are written plainly (``42``, ``3.5``, ``yes``, ``2024-05-01T12:00:00Z``, ``PT5M`` or ``5m``,
an Enum member's name, ``null`` for None); collections, dataclasses, pydantic models, TypedDicts and
NamedTuples are JSON; File, Dir and DataFrame are paths (or URLs). Inside JSON the same scalar rules
apply to strings (a File field is a path string, a datetime an ISO string).
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import inspect
import json
import os
import re
import typing
from decimal import Decimal, InvalidOperation
from typing import Any

from roost.types._typing import (
    NoneType,
    dataclass_fields,
    is_namedtuple,
    is_pydantic_model,
    is_typeddict,
    is_union,
    strip_annotated,
    type_name,
)

_TRUE = {"true", "1", "yes", "y", "on"}
_FALSE = {"false", "0", "no", "n", "off"}
_NULL = {"null", "none"}
_ISO_DURATION = re.compile(
    r"^(?P<sign>-)?P(?:(?P<w>\d+(?:\.\d+)?)W)?(?:(?P<d>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$",
    re.IGNORECASE,
)
_UNIT_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|us|w|d|h|m|s)", re.IGNORECASE)
_UNITS = {"w": 604800.0, "d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6}


class _Invalid(Exception):
    """A value that does not fit; ``where`` is the path inside a JSON document."""

    def __init__(self, reason: str, where: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.where = where


def parse_cli_value(text: str, python_type: Any) -> Any:
    """The value of type ``python_type`` written as ``text`` on the command line.

    Raises ValueError with a one-line message naming the expected type.
    """
    try:
        return _from_text(text, python_type)
    except _Invalid as e:
        where = f" (at {e.where})" if e.where else ""
        raise ValueError(f"invalid value {_clip(text)} for type {type_name(python_type)}{where}: {e.reason}") from None


def _clip(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def parse_duration(text: str) -> datetime.timedelta:
    """Seconds (``90``, ``1.5``), ISO 8601 (``PT5M``, ``P1DT2H``) or units (``5m``, ``2h30m``, ``500ms``)."""
    t = text.strip()
    try:
        return datetime.timedelta(seconds=float(t))
    except ValueError:
        pass
    match = _ISO_DURATION.match(t)
    if match and any(match.group(g) for g in "wdhms"):
        parts = {g: float(match.group(g) or 0) for g in "wdhms"}
        delta = datetime.timedelta(
            weeks=parts["w"], days=parts["d"], hours=parts["h"], minutes=parts["m"], seconds=parts["s"]
        )
        return -delta if match.group("sign") else delta
    body = t.lstrip("-")
    pieces = _UNIT_DURATION.findall(body)
    if pieces and _UNIT_DURATION.sub("", body).strip() == "":
        delta = datetime.timedelta(seconds=sum(float(n) * _UNITS[u.lower()] for n, u in pieces))
        return -delta if t.startswith("-") else delta
    raise _Invalid("expected seconds, an ISO 8601 duration such as PT5M, or units such as 5m / 2h30m")


def _parse_datetime(text: str) -> datetime.datetime:
    t = text.strip()
    if t.endswith(("Z", "z")):  # Python 3.10's fromisoformat does not read the Z suffix
        t = t[:-1] + "+00:00"
    try:
        return datetime.datetime.fromisoformat(t)
    except ValueError:
        raise _Invalid("expected an ISO 8601 date-time such as 2024-05-01T12:00:00Z") from None


def _path_value(text: str, cls: type, want_dir: bool) -> Any:
    if "://" in text and not text.startswith("file://"):
        return cls(text)  # a URL: referenced as it is
    path = os.path.abspath(os.path.expanduser(text[len("file://") :] if text.startswith("file://") else text))
    if not os.path.exists(path):
        raise _Invalid(f"{'directory' if want_dir else 'file'} not found: {path}")
    if want_dir and not os.path.isdir(path):
        raise _Invalid(f"not a directory: {path}")
    if not want_dir and cls.__name__ == "File" and not os.path.isfile(path):
        raise _Invalid(f"not a file: {path}")
    return cls(path)


def _reference(text: str, tp: Any) -> Any:
    """File / Dir / DataFrame (or a pandas / arrow frame type) from a path; None when tp is none of them."""
    from roost.types.dataframe import DataFrame
    from roost.types.dir import Dir
    from roost.types.file import File

    cls = typing.get_origin(tp) or tp
    if not isinstance(cls, type):
        return None
    if issubclass(cls, File):
        return _path_value(text, cls, want_dir=False)
    if issubclass(cls, Dir):
        return _path_value(text, cls, want_dir=True)
    if issubclass(cls, DataFrame):
        return _path_value(text, lambda p: cls(uri=p, format="parquet"), want_dir=False)  # type: ignore[arg-type]
    from roost.types.transformers.dataframes import DataFrameTransformerEngine

    if DataFrameTransformerEngine().handles(cls):
        ref = _path_value(text, lambda p: DataFrame(uri=p, format="parquet"), want_dir=False)  # type: ignore[arg-type]
        return DataFrameTransformerEngine.read(ref, cls)
    return None


def _scalar(text: str, tp: Any) -> Any:
    """Text of a scalar type; raises _Invalid. Returns _NOT_SCALAR when tp is not a scalar type."""
    if tp is str:
        return text
    if tp is bool:
        low = text.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise _Invalid("expected true/false (also 1/0, yes/no, on/off)")
    if tp is int:
        try:
            return int(text.strip())
        except ValueError:
            try:
                return int(text.strip(), 0)
            except ValueError:
                raise _Invalid("expected an integer") from None
    if tp is float:
        try:
            return float(text.strip())
        except ValueError:
            raise _Invalid("expected a number") from None
    if tp is bytes:
        return text.encode()
    if tp is Decimal:
        try:
            return Decimal(text.strip())
        except InvalidOperation:
            raise _Invalid("expected a decimal number") from None
    if tp is datetime.datetime:
        return _parse_datetime(text)
    if tp is datetime.date:
        try:
            return datetime.date.fromisoformat(text.strip())
        except ValueError:
            raise _Invalid("expected an ISO 8601 date such as 2024-05-01") from None
    if tp is datetime.timedelta:
        return parse_duration(text)
    if tp is NoneType:
        if text.strip().lower() in _NULL:
            return None
        raise _Invalid("expected null")
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        if text in tp.__members__:
            return tp[text]
        for member in tp:
            if str(member.value) == text:
                return member
        raise _Invalid(f"expected one of {', '.join(tp.__members__)}")
    if typing.get_origin(tp) is typing.Literal:
        choices = typing.get_args(tp)
        for choice in choices:
            if str(choice) == text:
                return choice
        raise _Invalid(f"expected one of {', '.join(map(str, choices))}")
    ref = _reference(text, tp)
    if ref is not None:
        return ref
    return _NOT_SCALAR


_NOT_SCALAR = object()


def _from_text(text: str, python_type: Any) -> Any:
    tp, _ = strip_annotated(python_type)
    if tp is Any or tp is inspect.Parameter.empty:
        return text  # unannotated inputs are described (and taken) as strings
    if is_union(tp):
        members = typing.get_args(tp)
        if NoneType in members and text.strip().lower() in _NULL:
            return None
        reasons = []
        for member in members:
            if member is NoneType:
                continue
            try:
                return _from_text(text, member)
            except _Invalid as e:
                reasons.append(f"{type_name(member)}: {e.reason}")
        raise _Invalid("; ".join(reasons))
    value = _scalar(text, tp)
    if value is not _NOT_SCALAR:
        return value
    if not _takes_json(tp):
        raise _Invalid(f"{type_name(tp)} values cannot be given on the command line")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise _Invalid(f"expected JSON ({e.msg} at position {e.pos})") from None
    return from_json(doc, tp)


def _takes_json(tp: Any) -> bool:
    origin = typing.get_origin(tp) or tp
    return (
        origin in (list, set, frozenset, tuple, dict)
        or is_namedtuple(tp)
        or is_typeddict(tp)
        or (isinstance(origin, type) and dataclasses.is_dataclass(origin))
        or is_pydantic_model(tp)
    )


def _json_kind(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number"
    )


def _at(where: str, key: Any) -> str:
    return f"{where}[{key}]" if isinstance(key, int) else f"{where}.{key}"


def value_from_json(doc: Any, python_type: Any) -> Any:
    """A JSON-like value (dicts, lists, scalars; parsed JSON) as a value of ``python_type``.

    What ``flyte.run`` does with a plain dict given for a dataclass or pydantic input. Values already
    of their declared class are kept as they are. Raises ValueError with a one-line message naming
    where in the document the value does not fit.
    """
    try:
        return from_json(doc, python_type)
    except _Invalid as e:
        where = f" (at {e.where})" if e.where and e.where != "$" else ""
        raise ValueError(f"cannot make a {type_name(python_type)} of it{where}: {e.reason}") from None


def from_json(doc: Any, python_type: Any, where: str = "$") -> Any:
    """A JSON document (parsed) as a value of ``python_type``; raises ValueError via parse_cli_value."""
    tp, _ = strip_annotated(python_type)
    try:
        return _from_json(doc, tp, where)
    except _Invalid as e:
        if not e.where:
            e.where = where
        raise


def _expect(doc: Any, kinds: tuple[type, ...], what: str) -> None:
    if not isinstance(doc, kinds) or (bool not in kinds and isinstance(doc, bool)):
        raise _Invalid(f"expected {what}, got JSON {_json_kind(doc)}")


def _from_json(doc: Any, tp: Any, where: str) -> Any:
    if tp is Any or tp is inspect.Parameter.empty or tp is object:
        return doc
    if tp is NoneType:
        if doc is None:
            return None
        raise _Invalid(f"expected null, got JSON {_json_kind(doc)}")
    if is_union(tp):
        members = typing.get_args(tp)
        if doc is None and NoneType in members:
            return None
        reasons = []
        for member in members:
            try:
                return from_json(doc, member, where)
            except _Invalid as e:
                reasons.append(f"{type_name(member)}: {e.reason}")
        raise _Invalid("; ".join(reasons))
    if tp is bool:
        _expect(doc, (bool,), "true or false")
        return doc
    if tp is int:
        _expect(doc, (int,), "an integer")
        return doc
    if tp is float:
        _expect(doc, (int, float), "a number")
        return float(doc)
    if tp in (Decimal, datetime.timedelta) and isinstance(doc, (int, float)) and not isinstance(doc, bool):
        return Decimal(str(doc)) if tp is Decimal else datetime.timedelta(seconds=doc)
    if isinstance(doc, str):
        value = _scalar(doc, tp)
        if value is not _NOT_SCALAR:
            return value
    if typing.get_origin(tp) is None and isinstance(tp, type) and not _is_json_container(tp) and isinstance(doc, tp):
        return doc  # not JSON, but already the value wanted (a File or a dataclass inside a dict from code)
    origin = typing.get_origin(tp) or tp
    args = typing.get_args(tp)
    if origin in (list, set, frozenset):
        _expect(doc, (list,), "an array")
        elem = args[0] if args else Any
        items = [from_json(v, elem, _at(where, i)) for i, v in enumerate(doc)]
        return items if origin is list else origin(items)
    if is_namedtuple(tp):
        hints = typing.get_type_hints(tp)
        if isinstance(doc, list):
            doc = dict(zip(tp._fields, doc))
        _expect(doc, (dict,), "an object or an array")
        return tp(**{k: from_json(v, hints.get(k, Any), _at(where, k)) for k, v in doc.items()})
    if origin is tuple:
        _expect(doc, (list,), "an array")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(from_json(v, args[0], _at(where, i)) for i, v in enumerate(doc))
        if args and len(doc) != len(args):
            raise _Invalid(f"expected an array of {len(args)} items, got {len(doc)}")
        return tuple(from_json(v, t, _at(where, i)) for i, (v, t) in enumerate(zip(doc, args or (Any,) * len(doc))))
    if is_typeddict(tp):
        _expect(doc, (dict,), "an object")
        hints = typing.get_type_hints(tp)
        unknown = [k for k in doc if k not in hints]
        if unknown:
            raise _Invalid(f"unexpected keys: {', '.join(unknown)}")
        return {k: from_json(v, hints[k], _at(where, k)) for k, v in doc.items()}
    if origin is dict:
        _expect(doc, (dict,), "an object")
        key_t, val_t = args if len(args) == 2 else (Any, Any)
        out = {}
        for k, v in doc.items():
            key = k if key_t in (str, Any) else _from_text(k, key_t)
            out[key] = from_json(v, val_t, _at(where, k))
        return out
    if isinstance(origin, type) and dataclasses.is_dataclass(origin):
        return _dataclass(doc, tp, where)
    if is_pydantic_model(tp):
        _expect(doc, (dict,), "an object")
        try:
            return tp.model_validate(doc)
        except Exception as e:
            raise _Invalid(" ".join(str(e).split())) from None
    if _written_as_text(tp):
        raise _Invalid(f"expected a string ({type_name(tp)}), got JSON {_json_kind(doc)}")
    raise _Invalid(f"{type_name(tp)} values cannot be given on the command line")


def _written_as_text(tp: Any) -> bool:
    """Types whose JSON form is a string (read by ``_scalar``)."""
    if tp in (str, bytes, Decimal, datetime.datetime, datetime.date, datetime.timedelta):
        return True
    return (isinstance(tp, type) and issubclass(tp, enum.Enum)) or typing.get_origin(tp) is typing.Literal


def _is_json_container(tp: type) -> bool:
    # A TypedDict or NamedTuple instance is a plain dict or tuple: its members still need converting.
    return issubclass(tp, (dict, list, tuple, set, frozenset))


def _dataclass(doc: Any, tp: Any, where: str) -> Any:
    cls, fields = dataclass_fields(tp)
    if isinstance(doc, cls):
        return doc
    _expect(doc, (dict,), "an object")
    known = {f.name: (f, hint) for f, hint in fields}
    unknown = [k for k in doc if k not in known or not known[k][0].init]
    if unknown:
        raise _Invalid(f"unexpected fields for {cls.__name__}: {', '.join(unknown)}")
    missing = [
        f.name
        for f, _ in fields
        if f.init
        and f.name not in doc
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise _Invalid(f"missing fields for {cls.__name__}: {', '.join(missing)}")
    return cls(**{k: from_json(v, known[k][1], _at(where, k)) for k, v in doc.items()})
