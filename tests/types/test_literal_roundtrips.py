"""Every built-in transformer gives back exactly the value it was given, through bytes."""

from __future__ import annotations

import datetime
import typing
from decimal import Decimal
from typing import Any, NamedTuple, Optional, TypedDict, Union

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typeutil import roundtrip, same

from roost.types import TypeEngine

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

PRIMITIVE_TYPES = [int, float, str, bool, bytes, Decimal, datetime.date, datetime.timedelta]


@pytest.mark.parametrize("tp", PRIMITIVE_TYPES, ids=lambda t: t.__name__)
@SETTINGS
@given(data=st.data())
def test_primitives_round_trip(tp, data):
    value = data.draw(st.from_type(tp))
    assert same(roundtrip(value, tp), value)


@SETTINGS
@given(st.integers(min_value=-(10**40), max_value=10**40))
def test_big_ints_round_trip(value):
    assert roundtrip(value, int) == value
    assert roundtrip([value, 1], list[int]) == [value, 1]
    assert roundtrip({"k": value}, dict[str, int]) == {"k": value}


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), -0.0, 5e-324, 1.7976931348623157e308])
def test_special_floats_round_trip(value):
    assert same(roundtrip(value, float), value)
    assert same(roundtrip([value], list[float]), [value])


def test_int_for_float_is_coerced_but_bool_is_not():
    back = roundtrip(3, float)
    assert back == 3.0 and type(back) is float
    with pytest.raises(TypeError):
        TypeEngine.to_literal(True, float)
    with pytest.raises(TypeError):
        TypeEngine.to_literal(True, int)


@pytest.mark.parametrize("value", ["", "héllo wörld", "日本語", "emoji 🚀", "\x00nul", "lone \ud800 surrogate"])
def test_unicode_strings_round_trip(value):
    assert roundtrip(value, str) == value


@SETTINGS
@given(st.datetimes(timezones=st.just(datetime.timezone.utc)))
def test_aware_datetimes_round_trip_in_utc(value):
    back = roundtrip(value, datetime.datetime)
    assert back == value and back.tzinfo == datetime.timezone.utc


def test_datetimes_come_back_timezone_aware_utc():
    naive = datetime.datetime(2024, 5, 1, 12, 30, 15, 123456)
    back = roundtrip(naive, datetime.datetime)
    assert back == naive.replace(tzinfo=datetime.timezone.utc)
    paris = datetime.timezone(datetime.timedelta(hours=2))
    local = datetime.datetime(2024, 5, 1, 14, 30, tzinfo=paris)
    back = roundtrip(local, datetime.datetime)
    assert back == local and back.tzinfo == datetime.timezone.utc and back.hour == 12


def test_date_is_not_a_datetime():
    assert roundtrip(datetime.date(2024, 2, 29), datetime.date) == datetime.date(2024, 2, 29)
    with pytest.raises(TypeError):
        TypeEngine.to_literal(datetime.datetime(2024, 1, 1), datetime.date)


@pytest.mark.parametrize("value", ["1.10", "-0", "NaN", "Infinity", "1E+3", "3.141592653589793238462643383279"])
def test_decimals_keep_their_exact_text(value):
    assert str(roundtrip(Decimal(value), Decimal)) == value


def test_none_round_trips():
    assert roundtrip(None, type(None)) is None
    assert roundtrip(None, None) is None


CONTAINER_TYPES = [
    list[int],
    list[float],
    list[str],
    list[bool],
    list[list[int]],
    dict[str, int],
    dict[str, float],
    dict[str, list[str]],
    dict[int, str],
    dict[str, dict[str, bool]],
    tuple[int, str],
    tuple[int, ...],
    Optional[list[dict[str, float]]],
    list[Optional[int]],
    dict[str, Optional[bytes]],
    Union[int, str],
    Union[float, int],
]


@pytest.mark.parametrize("tp", CONTAINER_TYPES, ids=str)
@SETTINGS
@given(data=st.data())
def test_containers_round_trip(tp, data):
    value = data.draw(st.from_type(tp))
    assert same(roundtrip(value, tp), value)


@SETTINGS
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | st.text(),
        lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
        max_leaves=20,
    )
)
def test_untyped_dict_values_round_trip(value):
    doc = {"v": value}
    assert same(roundtrip(doc, dict), doc)


def test_untyped_dict_with_non_msgpack_values_is_pickled_exactly():
    doc = {(1, 2): {3, 4}, "when": datetime.date(2024, 1, 1), "t": (1, "a"), "big": 10**30}
    assert roundtrip(doc, dict) == doc
    assert TypeEngine.to_literal(doc, dict).kind == "pickle"
    assert TypeEngine.to_literal({"a": [1, 2]}, dict).kind == "msgpack"


class Point(NamedTuple):
    x: int
    y: float
    label: str = ""


class Movie(TypedDict):
    title: str
    year: int
    tags: list[str]


class PartialMovie(TypedDict, total=False):
    title: str
    rating: float


def test_namedtuple_round_trips_as_itself():
    back = roundtrip(Point(1, 2.5, "a"), Point)
    assert back == Point(1, 2.5, "a") and type(back) is Point
    assert roundtrip((3, 4.0, "b"), Point) == Point(3, 4.0, "b")


def test_typeddict_round_trips_and_checks_keys():
    movie: Movie = {"title": "Alien", "year": 1979, "tags": ["sf"]}
    assert roundtrip(movie, Movie) == movie
    assert roundtrip({"title": "x"}, PartialMovie) == {"title": "x"}
    with pytest.raises(TypeError, match="missing keys"):
        TypeEngine.to_literal({"title": "x"}, Movie)
    with pytest.raises(TypeError, match="unexpected keys"):
        TypeEngine.to_literal({**movie, "extra": 1}, Movie)
    with pytest.raises(TypeError, match="year"):
        TypeEngine.to_literal({**movie, "year": "1979"}, Movie)


def test_typed_tuples_check_length_and_types():
    assert roundtrip((), tuple[()]) == ()
    assert roundtrip((1, "a", None), tuple[int, str, Optional[int]]) == (1, "a", None)
    with pytest.raises(TypeError):
        TypeEngine.to_literal((1, 2), tuple[int, str])
    with pytest.raises(TypeError):
        TypeEngine.to_literal((1,), tuple[int, str])
    with pytest.raises(TypeError):
        TypeEngine.to_literal([1, "a"], tuple[int, str])


def test_dict_with_non_str_keys_keeps_key_types():
    value = {1: "a", 2: "b", -(10**30): "c"}
    back = roundtrip(value, dict[int, str])
    assert back == value and all(type(k) is int for k in back)
    dates = {datetime.date(2024, 1, 1): [1.5]}
    assert roundtrip(dates, dict[datetime.date, list[float]]) == dates


def test_wrong_container_contents_name_the_position():
    with pytest.raises(TypeError, match=r"item \[2\]"):
        TypeEngine.to_literal([1, 2, "3"], list[int])
    with pytest.raises(TypeError, match="key 'b'"):
        TypeEngine.to_literal({"a": 1, "b": "x"}, dict[str, int])
    with pytest.raises(TypeError, match="expected str"):
        TypeEngine.to_literal({1: 1}, dict[str, int])
    with pytest.raises(TypeError, match="expected a list"):
        TypeEngine.to_literal((1, 2), list[int])


def test_none_for_a_non_optional_type_is_a_type_error():
    for tp in (int, str, list[int], Point, dict[str, int]):
        with pytest.raises(TypeError, match="None is not a valid value"):
            TypeEngine.to_literal(None, tp)
    with pytest.raises(ValueError):  # also a ValueError, as the SDK allows either
        TypeEngine.to_literal(None, int)


def test_any_accepts_none_and_anything():
    for value in (None, 1, {"a": {1, 2}}, object.__class__):
        assert roundtrip(value, Any) == value


def test_literal_strings_round_trip_and_are_checked():
    tp = typing.Literal["red", "green"]
    assert roundtrip("green", tp) == "green"
    with pytest.raises(TypeError, match="expected one of"):
        TypeEngine.to_literal("blue", tp)


def test_annotated_types_convert_as_their_base():
    tp = typing.Annotated[list[int], "some metadata"]
    assert roundtrip([1, 2], tp) == [1, 2]
    assert TypeEngine.to_literal_type(tp) == TypeEngine.to_literal_type(list[int])
