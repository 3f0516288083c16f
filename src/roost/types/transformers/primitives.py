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


def as_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        # numpy.bool_ is not a bool subclass, but it is a boolean.
        if type(value).__name__ != "bool_":
            raise _refuse("bool", value)
        return bool(value)
    return value


def as_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise _refuse("int", value)
    return int(value)


def as_float(value: Any) -> float:
    if isinstance(value, float):
        return float(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _refuse("float", value)
    try:
        return float(value)
    except OverflowError as e:
        raise TypeTransformerFailedError(f"int {value} is too large for a float") from e


def as_str(value: Any) -> str:
    if not isinstance(value, str):
        raise _refuse("str", value)
    # A str subclass (a StrEnum member, ...) travels as its plain text.
    return str.__str__(value)


def as_bytes(value: Any) -> bytes:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise _refuse("bytes", value)
    return bytes(value)


class BoolTransformer(ScalarTransformer[bool]):
    def __init__(self) -> None:
        super().__init__(bool, as_bool)


class IntTransformer(ScalarTransformer[int]):
    def __init__(self) -> None:
        super().__init__(int, as_int)


class FloatTransformer(ScalarTransformer[float]):
    def __init__(self) -> None:
        super().__init__(float, as_float, "float", "int")  # an int literal reads as a float


class StrTransformer(ScalarTransformer[str]):
    def __init__(self) -> None:
        super().__init__(str, as_str)


class BytesTransformer(ScalarTransformer[bytes]):
    def __init__(self) -> None:
        super().__init__(bytes, as_bytes)


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
