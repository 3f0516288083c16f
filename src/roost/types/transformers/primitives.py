"""None, bool, int, float, str, bytes, datetime, date, timedelta and Decimal.

Each accepts exactly its own type (subclasses included, bool never counting as a number), with one
coercion the SDK documents: an int passed where a float is declared becomes a float.
"""

from __future__ import annotations

import datetime
import numbers
from decimal import Decimal
from typing import Any

from roost.types._typing import NoneType, type_name
from roost.types.engine import TypeTransformer, TypeTransformerFailedError, expect_kind
from roost.types.literals import Literal, LiteralType

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


class BoolTransformer(TypeTransformer[bool]):
    def __init__(self) -> None:
        super().__init__("bool", bool)

    def to_literal(self, python_val: Any, python_type: Any, expected: LiteralType | None = None) -> Literal:
        if not isinstance(python_val, bool):
            # numpy.bool_ is not a bool subclass, but it is a boolean.
            if type(python_val).__name__ != "bool_":
                raise _refuse("bool", python_val)
            python_val = bool(python_val)
        return Literal("bool", python_val)

    def to_python_value(self, lv: Literal, expected_python_type: Any) -> bool:
        expect_kind(lv, "bool")
        return bool(lv.value)

    def guess_python_type(self, literal_type: LiteralType) -> Any:
        return bool


def as_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise _refuse("int", value)
    return int(value)


class IntTransformer(TypeTransformer[int]):
    def __init__(self) -> None:
        super().__init__("int", int)

    def to_literal(self, python_val: Any, python_type: Any, expected: LiteralType | None = None) -> Literal:
        return Literal("int", as_int(python_val))

    def to_python_value(self, lv: Literal, expected_python_type: Any) -> int:
        expect_kind(lv, "int")
        return int(lv.value)

    def guess_python_type(self, literal_type: LiteralType) -> Any:
        return int


def as_float(value: Any) -> float:
    if isinstance(value, float):
        return float(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _refuse("float", value)
    try:
        return float(value)
    except OverflowError as e:
        raise TypeTransformerFailedError(f"int {value} is too large for a float") from e


class FloatTransformer(TypeTransformer[float]):
    def __init__(self) -> None:
        super().__init__("float", float)

    def to_literal(self, python_val: Any, python_type: Any, expected: LiteralType | None = None) -> Literal:
        return Literal("float", as_float(python_val))

    def to_python_value(self, lv: Literal, expected_python_type: Any) -> float:
        expect_kind(lv, "float", "int")
        return float(lv.value)

    def guess_python_type(self, literal_type: LiteralType) -> Any:
        return float


def as_str(value: Any) -> str:
    if not isinstance(value, str):
        raise _refuse("str", value)
    # A str subclass (a StrEnum member, ...) travels as its plain text.
    return str.__str__(value)


class StrTransformer(TypeTransformer[str]):
    def __init__(self) -> None:
        super().__init__("str", str)

    def to_literal(self, python_val: Any, python_type: Any, expected: LiteralType | None = None) -> Literal:
        return Literal("str", as_str(python_val))

    def to_python_value(self, lv: Literal, expected_python_type: Any) -> str:
        expect_kind(lv, "str")
        return str(lv.value)

    def guess_python_type(self, literal_type: LiteralType) -> Any:
        return str


def as_bytes(value: Any) -> bytes:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise _refuse("bytes", value)
    return bytes(value)


class BytesTransformer(TypeTransformer[bytes]):
    def __init__(self) -> None:
        super().__init__("bytes", bytes)

    def to_literal(self, python_val: Any, python_type: Any, expected: LiteralType | None = None) -> Literal:
        return Literal("bytes", as_bytes(python_val))

    def to_python_value(self, lv: Literal, expected_python_type: Any) -> bytes:
        expect_kind(lv, "bytes")
        return bytes(lv.value)

    def guess_python_type(self, literal_type: LiteralType) -> Any:
        return bytes


class DatetimeTransformer(TypeTransformer[datetime.datetime]):
    """Instants: a naive datetime is taken as UTC (as the platform does); values come back in UTC."""

    def __init__(self) -> None:
        super().__init__("datetime", datetime.datetime)

    def to_literal(self, python_val: Any, python_type: Any, expected: LiteralType | None = None) -> Literal:
        if not isinstance(python_val, datetime.datetime):
            raise _refuse("datetime", python_val)
        if python_val.tzinfo is None or python_val.utcoffset() is None:
            python_val = python_val.replace(tzinfo=datetime.timezone.utc)
        delta = python_val - _EPOCH
        return Literal("datetime", [delta.days * 86400 + delta.seconds, delta.microseconds])

    def to_python_value(self, lv: Literal, expected_python_type: Any) -> datetime.datetime:
        expect_kind(lv, "datetime")
        seconds, micros = lv.value
        return _EPOCH + datetime.timedelta(seconds=seconds, microseconds=micros)

    def guess_python_type(self, literal_type: LiteralType) -> Any:
        return datetime.datetime


class DateTransformer(TypeTransformer[datetime.date]):
    def __init__(self) -> None:
        super().__init__("date", datetime.date)

    def to_literal(self, python_val: Any, python_type: Any, expected: LiteralType | None = None) -> Literal:
        # A datetime is a date subclass, but passing one would silently drop its time of day.
        if not isinstance(python_val, datetime.date) or isinstance(python_val, datetime.datetime):
            raise _refuse("date", python_val)
        return Literal("date", python_val.toordinal())

    def to_python_value(self, lv: Literal, expected_python_type: Any) -> datetime.date:
        expect_kind(lv, "date")
        return datetime.date.fromordinal(lv.value)

    def guess_python_type(self, literal_type: LiteralType) -> Any:
        return datetime.date


class TimedeltaTransformer(TypeTransformer[datetime.timedelta]):
    def __init__(self) -> None:
        super().__init__("duration", datetime.timedelta)

    def to_literal(self, python_val: Any, python_type: Any, expected: LiteralType | None = None) -> Literal:
        if not isinstance(python_val, datetime.timedelta):
            raise _refuse("timedelta", python_val)
        return Literal("duration", [python_val.days, python_val.seconds, python_val.microseconds])

    def to_python_value(self, lv: Literal, expected_python_type: Any) -> datetime.timedelta:
        expect_kind(lv, "duration")
        days, seconds, micros = lv.value
        return datetime.timedelta(days=days, seconds=seconds, microseconds=micros)

    def guess_python_type(self, literal_type: LiteralType) -> Any:
        return datetime.timedelta


class DecimalTransformer(TypeTransformer[Decimal]):
    """Decimals travel as their exact text (NaN, infinities, exponent and sign of zero included)."""

    def __init__(self) -> None:
        super().__init__("decimal", Decimal)

    def to_literal(self, python_val: Any, python_type: Any, expected: LiteralType | None = None) -> Literal:
        if isinstance(python_val, Decimal):
            return Literal("decimal", str(python_val))
        if isinstance(python_val, int) and not isinstance(python_val, bool):
            return Literal("decimal", str(Decimal(python_val)))
        raise _refuse("Decimal", python_val)

    def to_python_value(self, lv: Literal, expected_python_type: Any) -> Decimal:
        expect_kind(lv, "decimal")
        return Decimal(lv.value)

    def guess_python_type(self, literal_type: LiteralType) -> Any:
        return Decimal


def builtin_primitives() -> list[TypeTransformer[Any]]:
    return [
        NoneTransformer(),
        BoolTransformer(),
        IntTransformer(),
        FloatTransformer(),
        StrTransformer(),
        BytesTransformer(),
        DatetimeTransformer(),
        DateTransformer(),
        TimedeltaTransformer(),
        DecimalTransformer(),
    ]
