"""``io.literals_to_native``: reading literals back without the Python types that produced them."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import subprocess
import sys
import types
from decimal import Decimal
from typing import Any, NamedTuple, Optional, TypedDict, Union
from typing import Literal as Choice

import pandas as pd
import pydantic
import pytest

from roost.types import DataFrame, Dir, File, TypeEngine
from roost.types.literals import Literal
from roost.types.task_io import literals_to_native, pack, unpack

UTC = datetime.timezone.utc


def native(value: Any, tp: Any) -> Any:
    """Convert with the type, then decode without it, through bytes (as another process would)."""
    literals = unpack(pack({"v": TypeEngine.to_literal(value, tp)}))
    return literals_to_native(literals)["v"]


class Color(enum.Enum):
    RED = 1
    GREEN = "g"


@dataclasses.dataclass
class Point:
    x: int
    y: float


@dataclasses.dataclass(frozen=True)
class Key:
    a: int


class Model(pydantic.BaseModel):
    name: str
    tags: list[str]
    when: Optional[datetime.datetime] = None


class Movie(TypedDict):
    title: str
    year: int


class Pair(NamedTuple):
    left: int
    right: str


@dataclasses.dataclass
class Job:
    points: list[Point]
    colors: dict[str, Color]
    report: Optional[File]
    limits: tuple[int, Decimal]
    extra: Any
    meta: dict


# -- primitives ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "tp"),
    [
        (None, type(None)),
        (True, bool),
        (-7, int),
        (10**40, int),  # travels as a msgpack extension
        (2.5, float),
        ("héllo \ud800", str),
        (b"\x00\xff", bytes),
        (Decimal("-0.00"), Decimal),
        (datetime.date(2024, 2, 29), datetime.date),
        (datetime.timedelta(days=-1, seconds=5, microseconds=7), datetime.timedelta),
    ],
    ids=lambda v: type(v).__name__,
)
def test_primitives_decode_as_themselves(value, tp):
    back = native(value, tp)
    assert back == value and type(back) is type(value)
    if isinstance(value, Decimal):
        assert str(back) == "-0.00"  # the exact text, sign and exponent included


def test_datetimes_come_back_aware_in_utc():
    plus_two = datetime.timezone(datetime.timedelta(hours=2))
    back = native(datetime.datetime(2024, 5, 1, 12, 30, 0, 123456, tzinfo=plus_two), datetime.datetime)
    assert back == datetime.datetime(2024, 5, 1, 10, 30, 0, 123456, tzinfo=UTC)
    assert back.utcoffset() == datetime.timedelta(0)
    # A naive datetime is taken as UTC on the way in.
    assert native(datetime.datetime(2000, 1, 1), datetime.datetime) == datetime.datetime(2000, 1, 1, tzinfo=UTC)


# -- collections -----------------------------------------------------------------------------------------


def test_lists_packed_and_element_by_element():
    assert native([1, 2, 10**30], list[int]) == [1, 2, 10**30]  # vec
    assert native([b"a", b""], list[bytes]) == [b"a", b""]
    assert native([[1], [], [2, 3]], list[list[int]]) == [[1], [], [2, 3]]  # list of vec
    assert native([], list[Point]) == []


def test_str_keyed_maps():
    assert native({"a": 1.5, "b": -0.0}, dict[str, float]) == {"a": 1.5, "b": -0.0}  # vmap
    back = native({"k": [datetime.date(2020, 1, 1)]}, dict[str, list[datetime.date]])  # map
    assert back == {"k": [datetime.date(2020, 1, 1)]}


def test_non_str_keyed_maps_are_dicts_of_decoded_keys():
    assert native({1: "one", 2: "two"}, dict[int, str]) == {1: "one", 2: "two"}
    back = native({(1, "a"): Decimal("1.5")}, dict[tuple[int, str], Decimal])
    assert back == {(1, "a"): Decimal("1.5")}


def test_keys_that_decode_unhashable_give_a_list_of_pairs():
    # A frozen dataclass key becomes a dict, which cannot be a key: nothing raises, nothing is lost.
    assert native({Key(1): "x", Key(2): "y"}, dict[Key, str]) == [({"a": 1}, "x"), ({"a": 2}, "y")]


def test_untyped_dicts():
    value = {"a": [1, {"b": None}], 3: b"x"}
    back = native(value, dict)
    assert back == value
    back["a"].append("changed")  # the result is a copy, not a view of the literal
    lit = TypeEngine.to_literal(value, dict)
    decoded = literals_to_native({"v": lit})["v"]
    decoded["a"][1]["b"] = 1
    assert lit.value["a"][1] == {"b": None}
    # An untyped dict msgpack cannot keep is pickled, and unpickled here.
    assert native({"s": {1, 2}, "t": (1,)}, dict) == {"s": {1, 2}, "t": (1,)}


def test_tuples():
    assert native((1, "a", None), tuple[int, str, None]) == (1, "a", None)
    assert native((1, 2, 3), tuple[int, ...]) == (1, 2, 3)
    assert native((), tuple[()]) == ()


# -- records, enums, unions ------------------------------------------------------------------------------


def test_dataclasses_pydantic_models_and_typeddicts_are_dicts():
    assert native(Point(1, 2.0), Point) == {"x": 1, "y": 2.0}
    when = datetime.datetime(2024, 1, 1, tzinfo=UTC)
    assert native(Model(name="n", tags=["a"], when=when), Model) == {"name": "n", "tags": ["a"], "when": when}
    assert native(Model(name="n", tags=[]), Model) == {"name": "n", "tags": [], "when": None}
    assert native({"title": "Heat", "year": 1995}, Movie) == {"title": "Heat", "year": 1995}


def test_namedtuples_use_field_names_when_the_class_is_loaded():
    assert native(Pair(1, "r"), Pair) == {"left": 1, "right": "r"}


def test_namedtuples_of_classes_not_loaded_stay_tuples():
    lit = Literal("tuple", [Literal("int", 1), Literal("str", "r")], "roost_not_a_module_xyz:Pair")
    assert literals_to_native({"v": lit})["v"] == (1, "r")
    assert "roost_not_a_module_xyz" not in sys.modules  # never imported to find the field names
    # A class of that name with a different number of fields is not trusted either.
    lit = Literal("tuple", [Literal("int", 1)], f"{__name__}:Pair")
    assert literals_to_native({"v": lit})["v"] == (1,)


def test_enums_and_literal_choices_are_member_names():
    assert native(Color.GREEN, Color) == "GREEN"
    assert native([Color.RED, Color.GREEN], list[Color]) == ["RED", "GREEN"]
    assert native("b", Choice["a", "b"]) == "b"


def test_unions_decode_the_chosen_member():
    assert native(None, Optional[int]) is None
    assert native(3, Optional[int]) == 3
    assert native("s", Union[int, str]) == "s"
    assert native(Point(0, 1.0), Union[Point, int]) == {"x": 0, "y": 1.0}
    assert native(Color.RED, Union[Color, None]) == "RED"


# -- references ------------------------------------------------------------------------------------------


def test_file_and_dir_are_references(tmp_path):
    (tmp_path / "a.txt").write_text("hello")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "b.txt").write_text("b")
    f = File.from_local_sync(tmp_path / "a.txt")
    d = Dir.from_local_sync(tmp_path / "d")
    back_f, back_d = native(f, File), native(d, Dir)
    assert type(back_f) is File and back_f == f
    assert type(back_d) is Dir and back_d == d
    assert native(File.from_existing_remote("s3://bucket/x.csv"), File) == File(path="s3://bucket/x.csv")


def test_dataframes_are_references_not_read(monkeypatch):
    frame = pd.DataFrame({"a": [1, 2]})
    lit = TypeEngine.to_literal(frame, pd.DataFrame)

    def no_reading(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("literals_to_native must not read the data")

    from roost.types.transformers.dataframes import DataFrameTransformerEngine

    monkeypatch.setattr(DataFrameTransformerEngine, "read", no_reading)
    back = literals_to_native(unpack(pack({"v": lit})))["v"]
    assert type(back) is DataFrame
    assert (back.uri, back.format, back.hash) == (lit.value["uri"], "parquet", lit.value["hash"])
    monkeypatch.undo()
    pd.testing.assert_frame_equal(back.open(pd.DataFrame).all_sync(), frame)


# -- pickles ---------------------------------------------------------------------------------------------


def test_pickled_values_are_unpickled_when_possible():
    assert native({1, 2}, set[int]) == {1, 2}
    assert native(frozenset({"a"}), Any) == frozenset({"a"})
    assert native(Point(1, 2.0), Any) == Point(1, 2.0)  # pickled, and this test module is importable


@pytest.fixture
def vanishing_module(monkeypatch):
    """A module holding a class, importable while values are pickled; call ``remove()`` to unload it."""
    name = "roost_test_vanishing_mod"
    module = types.ModuleType(name)

    class Secret:
        def __init__(self, n: int) -> None:
            self.n = n

    # Pickle finds a class by module and name: make this one live in the temporary module only.
    Secret.__module__, Secret.__qualname__ = name, "Secret"
    module.Secret = Secret  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, name, module)
    module.remove = lambda: monkeypatch.delitem(sys.modules, name)  # type: ignore[attr-defined]
    return module


def test_a_pickle_whose_class_is_gone_becomes_a_placeholder(vanishing_module):
    secret = vanishing_module.Secret(7)
    literals = unpack(
        pack(
            {
                "alone": TypeEngine.to_literal(secret, Any),
                "job": TypeEngine.to_literal(
                    Job(points=[Point(1, 2.0)], colors={}, report=None, limits=(1, Decimal(2)), extra=secret, meta={}),
                    Job,
                ),
                "keys": TypeEngine.to_literal({frozenset({1}): secret, frozenset({2}): secret}, dict[frozenset, Any]),
            }
        )
    )
    assert literals_to_native(literals)["alone"].n == 7  # still importable: unpickled

    vanishing_module.remove()
    back = literals_to_native(literals)
    assert back["alone"] == "<pickled roost_test_vanishing_mod.Secret>"
    # Only the member that cannot be loaded is replaced; the rest of the record decodes.
    assert back["job"]["extra"] == "<pickled roost_test_vanishing_mod.Secret>"
    assert back["job"]["points"] == [{"x": 1, "y": 2.0}]
    # Pickled keys load (frozenset is a builtin); pickled values do not.
    assert back["keys"] == {
        frozenset({1}): "<pickled roost_test_vanishing_mod.Secret>",
        frozenset({2}): "<pickled roost_test_vanishing_mod.Secret>",
    }


def test_keys_that_collide_as_placeholders_give_a_list_of_pairs(vanishing_module):
    value = {vanishing_module.Secret(1): "a", vanishing_module.Secret(2): "b"}
    literals = unpack(pack({"v": TypeEngine.to_literal(value, dict[vanishing_module.Secret, str])}))
    vanishing_module.remove()
    placeholder = "<pickled roost_test_vanishing_mod.Secret>"
    assert literals_to_native(literals)["v"] == [(placeholder, "a"), (placeholder, "b")]


def test_corrupt_pickle_bytes_and_a_missing_cloudpickle_give_the_placeholder(monkeypatch):
    assert literals_to_native({"v": Literal("pickle", b"not a pickle", "x.Y")}) == {"v": "<pickled x.Y>"}
    good = TypeEngine.to_literal({1}, set[int])
    monkeypatch.setitem(sys.modules, "cloudpickle", None)  # makes ``import cloudpickle`` fail
    assert literals_to_native({"v": good}) == {"v": "<pickled set>"}


# -- nesting and robustness ------------------------------------------------------------------------------


def test_nested_combinations(tmp_path):
    (tmp_path / "r.txt").write_text("r")
    report = File.from_local_sync(tmp_path / "r.txt")
    job = Job(
        points=[Point(1, 2.0), Point(-1, 0.5)],
        colors={"bg": Color.RED, "fg": Color.GREEN},
        report=report,
        limits=(3, Decimal("1.25")),
        extra={"nested": [Point(0, 0.0)]},
        meta={"k": [1, "two", None]},
    )
    outer = dict[str, list[Optional[Job]]]
    assert native({"run": [job, None]}, outer) == {
        "run": [
            {
                "points": [{"x": 1, "y": 2.0}, {"x": -1, "y": 0.5}],
                "colors": {"bg": "RED", "fg": "GREEN"},
                "report": report,
                "limits": (3, Decimal("1.25")),
                "extra": {"nested": [Point(0, 0.0)]},  # Any: pickled, and loadable here
                "meta": {"k": [1, "two", None]},
            },
            None,
        ]
    }
    assert native([[Pair(1, "a")], [Pair(2, "b")]], list[list[Pair]]) == [
        [{"left": 1, "right": "a"}],
        [{"left": 2, "right": "b"}],
    ]
    assert native({1: [Color.RED], 2: []}, dict[int, list[Color]]) == {1: ["RED"], 2: []}


def test_names_and_order_are_kept():
    literals = {"o1": TypeEngine.to_literal(1, int), "o0": TypeEngine.to_literal("a", str)}
    assert list(literals_to_native(literals).items()) == [("o1", 1), ("o0", "a")]
    assert literals_to_native({}) == {}


def test_malformed_and_unknown_literals_never_raise():
    back = literals_to_native(
        {
            "unknown": Literal("hologram", 1),
            "bad_date": Literal("datetime", "yesterday"),
            "bad_file": Literal("file", {"name": "no path"}),
            "partial": Literal("list", [Literal("int", 1), Literal("duration", None)]),
        }
    )
    assert back["unknown"] == "<unknown literal kind 'hologram'>"
    assert back["bad_date"].startswith("<unreadable datetime value")
    assert back["bad_file"].startswith("<unreadable file value")
    assert back["partial"][0] == 1 and back["partial"][1].startswith("<unreadable duration value")


def test_importing_roost_types_io_stays_light():
    heavy = ["pandas", "pyarrow", "pydantic", "cloudpickle", "fsspec", "numpy"]
    code = f"import sys, roost.types.task_io; print([m for m in {heavy!r} if m in sys.modules])"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
