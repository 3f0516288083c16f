"""None, bool, int, float, str, bytes, datetime, date, timedelta and Decimal.

Each accepts exactly its own type (subclasses included, bool never counting as a number), with one
coercion the SDK documents: an int passed where a float is declared becomes a float.
"""

from __future__ import annotations

import datetime
import numbers
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

from roost.types._typing import NoneType, type_name
from roost.types.engine import TypeTransformer, TypeTransformerFailedError, expect_kind
from roost.types.literals import Literal, LiteralType

T = TypeVar("T")

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def _refuse(expected: str, value: Any) -> TypeTransformerFailedError:
    return TypeTransformerFailedError(f"expected {expected}, got {type_name(type(value))}")


class NoneTransformer(TypeTransformer[None]):
    accepts_none = True

    def __init__(self) -> None:
        super().__init__("none", NoneType)

    def to_literal(self, python_val: Any, python_type: Any, expected: LiteralType | None = None) -> Literal:
        if python_val is not None:
            raise _refuse("None", python_val)
        return Literal("none")

    def to_python_value(self, lv: Literal, expected_python_type: Any) -> None:
        expect_kind(lv, "none")

    def guess_python_type(self, literal_type: LiteralType) -> Any:
        return NoneType


class ScalarTransformer(TypeTransformer[T]):
    """A type whose literal value is the Python value itself, once ``check`` has accepted it.

    The literal kind is the type's name; ``read_kinds`` are the kinds it reads back (by default that
    one alone).
    """

    def __init__(self, t: type[T], check: Callable[[Any], T], *read_kinds: str) -> None:
        super().__init__(t.__name__, t)
        self._check = check
        self._read_kinds = read_kinds or (t.__name__,)

    def to_literal(self, python_val: Any, python_type: Any, expected: LiteralType | None = None) -> Literal:
        return Literal(self._name, self._check(python_val))

    def to_python_value(self, lv: Literal, expected_python_type: Any) -> T:
        if lv.kind not in self._read_kinds:
            expect_kind(lv, *self._read_kinds)  # raises
        return self._t(lv.value)  # type: ignore[no-any-return]

    def guess_python_type(self, literal_type: LiteralType) -> Any:
        return self._t


# Each check first accepts its exact type: that is nearly every value, and numbers.Integral / Real are
# ABCs whose isinstance costs a call into abc per value (a value of every action's inputs and outputs).


def as_bool(value: Any) -> bool:
    if type(value) is bool:
        return value
    if not isinstance(value, bool):
        # numpy.bool_ is not a bool subclass, but it is a boolean.
        if type(value).__name__ != "bool_":
            raise _refuse("bool", value)
        return bool(value)
    return value


def as_int(value: Any) -> int:
    if type(value) is int:
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise _refuse("int", value)
    return int(value)


def as_float(value: Any) -> float:
    if type(value) is float:
        return value
    if isinstance(value, float):
        return float(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _refuse("float", value)
    try:
        return float(value)
    except OverflowError as e:
        raise TypeTransformerFailedError(f"int {value} is too large for a float") from e


def as_str(value: Any) -> str:
    if type(value) is str:
        return value
    if not isinstance(value, str):
        raise _refuse("str", value)
    # A str subclass (a StrEnum member, ...) travels as its plain text.
    return str.__str__(value)


def as_bytes(value: Any) -> bytes:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise _refuse("bytes", value)
    return bytes(value)


class CodedTransformer(TypeTransformer[T]):
    """A type whose literal of kind ``kind`` holds ``encode(value)`` -- which refuses a value of
    another type -- and reads back as ``decode(literal value)``."""

    def __init__(self, kind: str, t: type[T], encode: Callable[[Any], Any], decode: Callable[[Any], T]) -> None:
        super().__init__(kind, t)
        self._encode = encode
        self._decode = decode

    def to_literal(self, python_val: Any, python_type: Any, expected: LiteralType | None = None) -> Literal:
        return Literal(self._name, self._encode(python_val))

    def to_python_value(self, lv: Literal, expected_python_type: Any) -> T:
        expect_kind(lv, self._name)
        return self._decode(lv.value)

    def guess_python_type(self, literal_type: LiteralType) -> Any:
        return self._t


def encode_datetime(value: Any) -> list[int]:
    """An instant as [seconds, microseconds] since the epoch: a naive datetime is taken as UTC (as
    the platform does); values come back in UTC."""
    if not isinstance(value, datetime.datetime):
        raise _refuse("datetime", value)
    if value.tzinfo is None or value.utcoffset() is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    delta = value - _EPOCH
    return [delta.days * 86400 + delta.seconds, delta.microseconds]


def decode_datetime(value: list[int]) -> datetime.datetime:
    seconds, micros = value
    return _EPOCH + datetime.timedelta(seconds=seconds, microseconds=micros)


def encode_date(value: Any) -> int:
    # A datetime is a date subclass, but passing one would silently drop its time of day.
    if not isinstance(value, datetime.date) or isinstance(value, datetime.datetime):
        raise _refuse("date", value)
    return value.toordinal()


def encode_timedelta(value: Any) -> list[int]:
    if not isinstance(value, datetime.timedelta):
        raise _refuse("timedelta", value)
    return [value.days, value.seconds, value.microseconds]


def decode_timedelta(value: list[int]) -> datetime.timedelta:
    days, seconds, micros = value
    return datetime.timedelta(days=days, seconds=seconds, microseconds=micros)


def encode_decimal(value: Any) -> str:
    """A decimal as its exact text (NaN, infinities, exponent and sign of zero included)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(Decimal(value))
    raise _refuse("Decimal", value)


def builtin_primitives() -> list[TypeTransformer[Any]]:
    return [
        NoneTransformer(),
        ScalarTransformer(bool, as_bool),
        ScalarTransformer(int, as_int),
        ScalarTransformer(float, as_float, "float", "int"),  # an int literal reads as a float
        ScalarTransformer(str, as_str),
        ScalarTransformer(bytes, as_bytes),
        CodedTransformer("datetime", datetime.datetime, encode_datetime, decode_datetime),
        CodedTransformer("date", datetime.date, encode_date, datetime.date.fromordinal),
        CodedTransformer("duration", datetime.timedelta, encode_timedelta, decode_timedelta),
        CodedTransformer("decimal", Decimal, encode_decimal, Decimal),
    ]
