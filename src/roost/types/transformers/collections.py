"""list[T], dict[str, V], dict[K, V], untyped dict, tuple[A, B], tuple[T, ...], NamedTuple, TypedDict.

Lists and str-keyed dicts of primitives take a packed form (``vec`` / ``vmap``: native values, the
element kind recorded once), which is both the compact encoding and the fast path for big lists.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Mapping
from typing import Any

from roost.types._typing import (
    is_namedtuple,
    is_typeddict,
    qualified_name,
    type_name,
    typeddict_fields,
    typeddict_required_keys,
)
from roost.types.engine import TypeEngine, TypeTransformer, TypeTransformerFailedError, expect_kind
from roost.types.literals import Literal, LiteralType, is_big_int
from roost.types.transformers.pickle import pickler
from roost.types.transformers.primitives import as_bytes, as_float, as_int, as_str


def _to_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeTransformerFailedError(f"expected bool, got {type_name(type(value))}")
    return value


# Element types with a packed form: how one element is checked/normalised.
_PACKED: dict[Any, tuple[str, Callable[[Any], Any]]] = {
    int: ("int", as_int),
    float: ("float", as_float),
    str: ("str", as_str),
    bool: ("bool", _to_bool),
    bytes: ("bytes", as_bytes),
}
_PACKED_BACK: dict[str, Callable[[Any], Any]] = {"int": int, "float": float, "str": str, "bool": bool, "bytes": bytes}


def _element_error(where: str, e: Exception) -> TypeTransformerFailedError:
    return TypeTransformerFailedError(f"{where}: {e}")


def _args(tp: Any, count: int) -> tuple[Any, ...]:
    args = typing.get_args(tp)
    return args if len(args) == count else (Any,) * count


class ListTransformer(TypeTransformer[list[Any]]):
    literal_kinds = ("list", "vec")

    def __init__(self) -> None:
        super().__init__("list", list)

    def get_literal_type(self, t: Any) -> LiteralType:
        (elem,) = _args(t, 1)
        return LiteralType("list", (TypeEngine.to_literal_type(elem),))

    def to_literal(self, python_val: Any, python_type: Any, expected: LiteralType | None = None) -> Literal:
        if not isinstance(python_val, list):
            raise TypeTransformerFailedError(f"expected a list, got {type_name(type(python_val))}")
        (elem,) = _args(python_type, 1)
        packed = _PACKED.get(elem)
        if packed is not None:
            kind, check = packed
            try:
                return Literal("vec", [check(v) for v in python_val], kind)
            except TypeTransformerFailedError:
                pass  # fall through to the element-by-element path for a message naming the index
        items = []
        for i, v in enumerate(python_val):
            try:
                items.append(TypeEngine.to_literal(v, elem))
            except TypeError as e:
                raise _element_error(f"item [{i}]", e) from e
        return Literal("list", items)

    def to_python_value(self, lv: Literal, expected_python_type: Any) -> list[Any]:
        (elem,) = _args(expected_python_type, 1)
        if lv.kind == "vec":
            back = _PACKED_BACK[lv.meta]
            return [back(v) for v in lv.value]
        expect_kind(lv, "list")
        return [TypeEngine.to_python_value(item, elem) for item in lv.value]

    def guess_python_type(self, literal_type: LiteralType) -> Any:
        elem = TypeEngine.guess_python_type(literal_type.args[0]) if literal_type.args else Any
        return list[elem]  # type: ignore[valid-type]


def _is_msgpack_native(value: Any) -> bool:
    """True when msgpack gives ``value`` back exactly: scalars, lists and dicts of them, nothing else."""
    t = type(value)
    if value is None or t in (bool, float, str, bytes):
        return True
    if t is int:
        return not is_big_int(value)
    if t is list:
        return all(_is_msgpack_native(v) for v in value)
    if t is dict:
        return all(
            type(k) in (str, int, bytes) and _is_msgpack_native(k) and _is_msgpack_native(v) for k, v in value.items()
        )
    return False


class DictTransformer(TypeTransformer[dict[Any, Any]]):
    """dict[str, V] -> map; dict[K, V] -> pairs; untyped dict -> msgpack (pickle if msgpack cannot keep it)."""

    literal_kinds = ("map", "vmap", "pairs", "msgpack")

    def __init__(self) -> None:
        super().__init__("dict", dict)

    def get_literal_type(self, t: Any) -> LiteralType:
        args = typing.get_args(t)
        if len(args) != 2 or args == (Any, Any):
            return LiteralType("msgpack")
        key, value = args
        if key is str:
            return LiteralType("map", (TypeEngine.to_literal_type(value),))
        return LiteralType("pairs", (TypeEngine.to_literal_type(key), TypeEngine.to_literal_type(value)))

    def to_literal(self, python_val: Any, python_type: Any, expected: LiteralType | None = None) -> Literal:
        if not isinstance(python_val, dict):
            raise TypeTransformerFailedError(f"expected a dict, got {type_name(type(python_val))}")
        args = typing.get_args(python_type)
        if len(args) != 2 or args == (Any, Any):
            if _is_msgpack_native(python_val):
                return Literal("msgpack", python_val)
            # Values msgpack would change (tuples, sets, datetimes, objects): the whole dict is pickled.
            return pickler().to_literal(python_val, dict)
        key_type, value_type = args
        if key_type is str:
            return self._map(python_val, value_type)
        pairs = []
        for k, v in python_val.items():
            try:
                pairs.append((TypeEngine.to_literal(k, key_type), TypeEngine.to_literal(v, value_type)))
            except TypeError as e:
                raise _element_error(f"entry {k!r}", e) from e
        return Literal("pairs", pairs)

    def _map(self, value: dict[Any, Any], value_type: Any) -> Literal:
        for k in value:
            if not isinstance(k, str):
                raise TypeTransformerFailedError(f"key {k!r} is a {type_name(type(k))}, expected str")
        packed = _PACKED.get(value_type)
        if packed is not None:
            kind, check = packed
            try:
                return Literal("vmap", {str.__str__(k): check(v) for k, v in value.items()}, kind)
            except TypeTransformerFailedError:
                pass
        items = {}
        for k, v in value.items():
            try:
                items[str.__str__(k)] = TypeEngine.to_literal(v, value_type)
            except TypeError as e:
                raise _element_error(f"key {k!r}", e) from e
        return Literal("map", items)

    def to_python_value(self, lv: Literal, expected_python_type: Any) -> dict[Any, Any]:
        key_type, value_type = _args(expected_python_type, 2)
        if lv.kind == "vmap":
            back = _PACKED_BACK[lv.meta]
            return {k: back(v) for k, v in lv.value.items()}
        if lv.kind == "map":
            return {k: TypeEngine.to_python_value(v, value_type) for k, v in lv.value.items()}
        if lv.kind == "pairs":
            return {
                TypeEngine.to_python_value(k, key_type): TypeEngine.to_python_value(v, value_type) for k, v in lv.value
            }
        if lv.kind == "msgpack":
            return dict(lv.value)
        expect_kind(lv, "pickle")
        return pickler().to_python_value(lv, dict)  # type: ignore[no-any-return]

    def guess_python_type(self, literal_type: LiteralType) -> Any:
        if literal_type.kind == "map" and literal_type.args:
            return dict[str, TypeEngine.guess_python_type(literal_type.args[0])]  # type: ignore[misc]
        if literal_type.kind == "pairs" and len(literal_type.args) == 2:
            k, v = (TypeEngine.guess_python_type(a) for a in literal_type.args)
            return dict[k, v]  # type: ignore[valid-type]
        return dict


def _tuple_items(value: Any, types_: tuple[Any, ...], names: tuple[str, ...] | None = None) -> list[Literal]:
    items = []
    for i, (v, t) in enumerate(zip(value, types_)):
        try:
            items.append(TypeEngine.to_literal(v, t))
        except TypeError as e:
            label = f"field {names[i]!r}" if names else f"item [{i}]"
            raise _element_error(label, e) from e
    return items


class TupleTransformer(TypeTransformer[tuple[Any, ...]]):
    """Typed tuples: ``tuple[A, B]`` (fixed) and ``tuple[T, ...]`` (any length)."""

    def __init__(self) -> None:
        super().__init__("tuple", tuple)

    def handles(self, python_type: Any) -> bool:
        return typing.get_origin(python_type) is tuple and bool(typing.get_args(python_type))

    @staticmethod
    def _shape(tp: Any) -> tuple[tuple[Any, ...], bool]:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return (args[0],), True
        if args == ((),):  # tuple[()]: the empty tuple
            return (), False
        return args, False

    def get_literal_type(self, t: Any) -> LiteralType:
        args, variadic = self._shape(t)
        lt = LiteralType("tuple", tuple(TypeEngine.to_literal_type(a) for a in args))
        return LiteralType("list", lt.args, name="tuple") if variadic else lt

    def to_literal(self, python_val: Any, python_type: Any, expected: LiteralType | None = None) -> Literal:
        if not isinstance(python_val, tuple):
            raise TypeTransformerFailedError(f"expected a tuple, got {type_name(type(python_val))}")
        args, variadic = self._shape(python_type)
        if variadic:
            return Literal("tuple", _tuple_items(python_val, args * len(python_val)))
        if len(python_val) != len(args):
            raise TypeTransformerFailedError(f"expected a tuple of {len(args)} items, got {len(python_val)}")
        return Literal("tuple", _tuple_items(python_val, args))

    def to_python_value(self, lv: Literal, expected_python_type: Any) -> tuple[Any, ...]:
        expect_kind(lv, "tuple")
        args, variadic = self._shape(expected_python_type)
        types_ = args * len(lv.value) if variadic else args
        return tuple(TypeEngine.to_python_value(item, t) for item, t in zip(lv.value, types_))

    def guess_python_type(self, literal_type: LiteralType) -> Any:
        if not literal_type.args:
            return tuple
        return tuple[tuple(TypeEngine.guess_python_type(a) for a in literal_type.args)]  # type: ignore[misc]


class NamedTupleTransformer(TypeTransformer[tuple[Any, ...]]):
    def __init__(self) -> None:
        super().__init__("namedtuple", tuple)

    def handles(self, python_type: Any) -> bool:
        return is_namedtuple(python_type)

    @staticmethod
    def _fields(tp: Any) -> tuple[tuple[str, ...], tuple[Any, ...]]:
        hints = typing.get_type_hints(tp, include_extras=True)
        return tp._fields, tuple(hints.get(f, Any) for f in tp._fields)

    def get_literal_type(self, t: Any) -> LiteralType:
        names, types_ = self._fields(t)
        return LiteralType("tuple", tuple(TypeEngine.to_literal_type(a) for a in types_), names, qualified_name(t))

    def to_literal(self, python_val: Any, python_type: Any, expected: LiteralType | None = None) -> Literal:
        names, types_ = self._fields(python_type)
        if not isinstance(python_val, tuple) or len(python_val) != len(names):
            raise TypeTransformerFailedError(
                f"expected {type_name(python_type)} ({len(names)} fields), got {type_name(type(python_val))}"
            )
        return Literal("tuple", _tuple_items(python_val, types_, names), qualified_name(python_type))

    def to_python_value(self, lv: Literal, expected_python_type: Any) -> tuple[Any, ...]:
        expect_kind(lv, "tuple")
        _, types_ = self._fields(expected_python_type)
        return expected_python_type(*(TypeEngine.to_python_value(i, t) for i, t in zip(lv.value, types_)))  # type: ignore[no-any-return]


class TypedDictTransformer(TypeTransformer[dict[str, Any]]):
    """TypedDicts as records of their keys. A key that may be absent (``NotRequired``, ``total=False``)
    and is absent stays absent: nothing is written for it, and nothing is read back."""

    def __init__(self) -> None:
        super().__init__("typeddict", dict)

    def handles(self, python_type: Any) -> bool:
        return is_typeddict(python_type)

    def get_literal_type(self, t: Any) -> LiteralType:
        hints = typeddict_fields(t)
        return LiteralType(
            "record", tuple(TypeEngine.to_literal_type(h) for h in hints.values()), tuple(hints), qualified_name(t)
        )

    def to_literal(self, python_val: Any, python_type: Any, expected: LiteralType | None = None) -> Literal:
        if not isinstance(python_val, Mapping):
            raise TypeTransformerFailedError(
                f"expected a dict ({type_name(python_type)}), got {type_name(type(python_val))}"
            )
        hints = typeddict_fields(python_type)
        unknown = [k for k in python_val if k not in hints]
        if unknown:
            raise TypeTransformerFailedError(
                f"unexpected keys for {type_name(python_type)}: {', '.join(map(repr, unknown))}"
            )
        missing = [k for k in sorted(typeddict_required_keys(python_type)) if k not in python_val]
        if missing:
            raise TypeTransformerFailedError(
                f"missing keys for {type_name(python_type)}: {', '.join(map(repr, missing))}"
            )
        fields = {}
        for k, v in python_val.items():
            try:
                fields[k] = TypeEngine.to_literal(v, hints[k])
            except TypeError as e:
                raise _element_error(f"key {k!r}", e) from e
        return Literal("record", fields, qualified_name(python_type))

    def to_python_value(self, lv: Literal, expected_python_type: Any) -> dict[str, Any]:
        expect_kind(lv, "record")
        hints = typeddict_fields(expected_python_type)
        return {k: TypeEngine.to_python_value(v, hints.get(k, Any)) for k, v in lv.value.items()}
