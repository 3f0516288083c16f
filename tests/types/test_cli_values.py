"""parse_cli_value: what `roost run FILE TASK --x VALUE` makes of VALUE."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import typing
from decimal import Decimal
from typing import Any, NamedTuple, Optional, TypedDict, Union

import pandas as pd
import pydantic
import pytest

from roost.types import DataFrame, Dir, File
from roost.types.task_io import parse_cli_value

UTC = datetime.timezone.utc


class Color(enum.Enum):
    RED = "r"
    GREEN = "g"


@dataclasses.dataclass
class Point:
    x: int
    y: float = 0.0


@dataclasses.dataclass
class Shape:
    name: str
    points: list[Point]
    color: Color
    source: Optional[File] = None
    created: Optional[datetime.datetime] = None


class Pair(NamedTuple):
    a: int
    b: str


class Options(TypedDict):
    depth: int
    tags: list[str]


class Model(pydantic.BaseModel):
    name: str
    sizes: list[int]


@pytest.mark.parametrize(
    ("text", "tp", "expected"),
    [
        ("42", int, 42),
        ("-7", int, -7),
        ("0x10", int, 16),
        ("100000000000000000000000", int, 10**23),
        ("3.5", float, 3.5),
        ("1e3", float, 1000.0),
        ("hello world", str, "hello world"),
        ("", str, ""),
        ("true", bool, True),
        ("False", bool, False),
        ("1", bool, True),
        ("0", bool, False),
        ("yes", bool, True),
        ("no", bool, False),
        ("abc", bytes, b"abc"),
        ("1.10", Decimal, Decimal("1.10")),
        ("2024-05-01", datetime.date, datetime.date(2024, 5, 1)),
        ("2024-05-01T12:30:00Z", datetime.datetime, datetime.datetime(2024, 5, 1, 12, 30, tzinfo=UTC)),
        ("2024-05-01T12:30:00", datetime.datetime, datetime.datetime(2024, 5, 1, 12, 30)),
        ("90", datetime.timedelta, datetime.timedelta(seconds=90)),
        ("1.5", datetime.timedelta, datetime.timedelta(seconds=1.5)),
        ("PT5M", datetime.timedelta, datetime.timedelta(minutes=5)),
        ("P1DT2H", datetime.timedelta, datetime.timedelta(days=1, hours=2)),
        ("5m", datetime.timedelta, datetime.timedelta(minutes=5)),
        ("2h30m", datetime.timedelta, datetime.timedelta(hours=2, minutes=30)),
        ("500ms", datetime.timedelta, datetime.timedelta(milliseconds=500)),
        ("RED", Color, Color.RED),
        ("g", Color, Color.GREEN),
        ("a", typing.Literal["a", "b"], "a"),
        ("null", Optional[int], None),
        ("None", Optional[str], None),
        ("5", Optional[int], 5),
        ("5", Union[int, str], 5),
        ("five", Union[int, str], "five"),
        ("[1, 2, 3]", list[int], [1, 2, 3]),
        ('{"a": 1.5}', dict[str, float], {"a": 1.5}),
        ('{"1": "x"}', dict[int, str], {1: "x"}),
        ('{"k": [1, {"n": null}]}', dict, {"k": [1, {"n": None}]}),
        ("[1, 2]", list[float], [1.0, 2.0]),
        ('[1, "a"]', tuple[int, str], (1, "a")),
        ("[1, 2, 3]", tuple[int, ...], (1, 2, 3)),
        ("[1, 2]", set[int], {1, 2}),
        ('["2024-01-01"]', list[datetime.date], [datetime.date(2024, 1, 1)]),
        ('{"a": "RED"}', dict[str, Color], {"a": Color.RED}),
        ('[1, "b"]', Pair, Pair(1, "b")),
        ('{"a": 1, "b": "c"}', Pair, Pair(1, "c")),
        ('{"depth": 2, "tags": ["x"]}', Options, {"depth": 2, "tags": ["x"]}),
        ('{"x": 1}', Point, Point(1)),
        ('[{"x": 1, "y": 2}]', list[Point], [Point(1, 2.0)]),
        ('{"name": "m", "sizes": [1]}', Model, Model(name="m", sizes=[1])),
        ("anything", Any, "anything"),
        ("[1, 2]", typing.Annotated[list[int], "meta"], [1, 2]),
        ("null", Optional[list[int]], None),
        ("[null, 1]", list[Optional[int]], [None, 1]),
    ],
)
def test_parses(text, tp, expected):
    value = parse_cli_value(text, tp)
    assert value == expected and type(value) is type(expected)


def test_nested_dataclass_from_json_with_file_and_datetime(tmp_path):
    src = tmp_path / "shape.svg"
    src.write_text("<svg/>")
    text = (
        '{"name": "tri", "points": [{"x": 1}, {"x": 2, "y": 3.5}], "color": "GREEN",'
        f' "source": "{src}", "created": "2024-01-01T00:00:00+00:00"}}'
    )
    shape = parse_cli_value(text, Shape)
    assert shape.points == [Point(1), Point(2, 3.5)] and shape.color is Color.GREEN
    assert isinstance(shape.source, File) and shape.source.path == str(src)
    assert shape.created == datetime.datetime(2024, 1, 1, tzinfo=UTC)


def test_paths_for_file_dir_and_dataframe(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    f = parse_cli_value(str(tmp_path / "a.txt"), File)
    assert isinstance(f, File) and f.path == str(tmp_path / "a.txt")
    d = parse_cli_value(str(tmp_path), Dir)
    assert isinstance(d, Dir) and d.path == str(tmp_path)
    remote = parse_cli_value("s3://bucket/key.csv", File)
    assert remote.path == "s3://bucket/key.csv"
    frame = pd.DataFrame({"a": [1, 2]})
    frame.to_parquet(tmp_path / "t.parquet")
    df = parse_cli_value(str(tmp_path / "t.parquet"), DataFrame)
    assert isinstance(df, DataFrame) and df.uri == str(tmp_path / "t.parquet")
    pd.testing.assert_frame_equal(parse_cli_value(str(tmp_path / "t.parquet"), pd.DataFrame), frame)


@pytest.mark.parametrize(
    ("text", "tp", "fragment"),
    [
        ("abc", int, "expected an integer"),
        ("1.5", int, "expected an integer"),
        ("x", float, "expected a number"),
        ("maybe", bool, "expected true/false"),
        ("2024-13-01", datetime.date, "ISO 8601 date"),
        ("yesterday", datetime.datetime, "ISO 8601 date-time"),
        ("5 parsecs", datetime.timedelta, "ISO 8601 duration"),
        ("1,5", Decimal, "decimal"),
        ("BLUE", Color, "expected one of RED, GREEN"),
        ("c", typing.Literal["a", "b"], "expected one of a, b"),
        ("[1, 2", list[int], "expected JSON"),
        ('["a"]', list[int], r"at \$\[0\]\): expected an integer, got JSON string"),
        ('{"x": "1"}', Point, r"at \$.x"),
        ('{"y": 1.0}', Point, "missing fields for Point: x"),
        ('{"x": 1, "z": 2}', Point, "unexpected fields for Point: z"),
        ("[1]", tuple[int, str], "expected an array of 2 items"),
        ('{"name": 1}', Model, "sizes"),
        ("x", Optional[int], "expected an integer"),
        ("object", object.__class__, "cannot be given on the command line"),
    ],
)
def test_bad_strings_are_one_line_value_errors_naming_the_type(text, tp, fragment):
    with pytest.raises(ValueError, match=fragment) as info:
        parse_cli_value(text, tp)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"invalid value {text!r} for type")


def test_missing_paths_name_the_path(tmp_path):
    for tp in (File, Dir, DataFrame, pd.DataFrame):
        with pytest.raises(ValueError, match=r"not found: .*missing\.bin"):
            parse_cli_value(str(tmp_path / "missing.bin"), tp)
    (tmp_path / "f").write_text("x")
    with pytest.raises(ValueError, match="not a directory"):
        parse_cli_value(str(tmp_path / "f"), Dir)
    with pytest.raises(ValueError, match="not a file"):
        parse_cli_value(str(tmp_path), File)
