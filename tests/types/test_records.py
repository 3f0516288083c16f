"""Dataclasses and pydantic models, alone and nested in each other and in containers."""

from __future__ import annotations

import dataclasses
import datetime
import enum
from typing import Generic, NamedTuple, Optional, TypeVar

import pydantic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typeutil import roundtrip, same

from roost.types import File, TypeEngine
from roost.types.literals import LiteralType

T = TypeVar("T")


class Color(enum.Enum):
    RED = "r"
    GREEN = 2


@dataclasses.dataclass
class Inner:
    name: str
    weight: float = 1.0


@dataclasses.dataclass
class Outer:
    inner: Inner
    inners: list[Inner]
    by_name: dict[str, Inner]
    color: Color
    maybe: Optional[Inner] = None
    when: Optional[datetime.datetime] = None


@dataclasses.dataclass(frozen=True)
class Frozen:
    a: int
    b: tuple[int, str]
    computed: int = dataclasses.field(init=False, default=0)


@dataclasses.dataclass
class Box(Generic[T]):
    item: T
    items: list[T]


@dataclasses.dataclass
class WithFile:
    label: str
    file: Optional[File] = None


@dataclasses.dataclass
class Node:
    value: int
    children: list[Node] = dataclasses.field(default_factory=list)


class Pair(NamedTuple):
    left: Inner
    right: Inner


class Address(pydantic.BaseModel):
    street: str
    zip_code: int


class Person(pydantic.BaseModel):
    name: str
    age: int
    addresses: list[Address] = []
    nickname: Optional[str] = None


@dataclasses.dataclass
class Team:
    lead: Person
    members: list[Person]


class Registry(pydantic.BaseModel):
    teams: dict[str, list[Inner]]
    color: Color
    report: Optional[File] = None


class Loose(pydantic.BaseModel, extra="allow"):
    known: int


SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(st.builds(Inner, name=st.text(), weight=st.floats(allow_nan=False)))
def test_dataclass_round_trip(value):
    back = roundtrip(value, Inner)
    assert back == value and type(back) is Inner and same(back.weight, value.weight)


def test_nested_dataclasses_round_trip():
    value = Outer(
        inner=Inner("a"),
        inners=[Inner("b", 2.0), Inner("c", float("inf"))],
        by_name={"x": Inner("x", -1.5)},
        color=Color.GREEN,
        maybe=Inner("m"),
        when=datetime.datetime(2024, 1, 2, tzinfo=datetime.timezone.utc),
    )
    assert roundtrip(value, Outer) == value
    assert roundtrip(dataclasses.replace(value, maybe=None, when=None), Outer).maybe is None


def test_frozen_dataclass_with_non_init_field():
    value = Frozen(1, (2, "x"))
    object.__setattr__(value, "computed", 42)
    back = roundtrip(value, Frozen)
    assert back == value and back.computed == 42


def test_generic_dataclass_uses_its_parameters():
    value = Box[int](1, [2, 3])
    assert roundtrip(value, Box[int]) == value
    assert TypeEngine.to_literal_type(Box[int]).args[0] == LiteralType("int")
    with pytest.raises(TypeError, match="field 'items'"):
        TypeEngine.to_literal(Box[int](1, ["x"]), Box[int])
    nested = Box[Inner](Inner("a"), [Inner("b")])
    assert roundtrip(nested, Box[Inner]) == nested


def test_self_referencing_dataclass():
    tree = Node(1, [Node(2), Node(3, [Node(4)])])
    assert roundtrip(tree, Node) == tree
    assert TypeEngine.to_literal_type(Node).kind == "record"


def test_wrong_field_type_names_the_field_path():
    bad = Outer(Inner("a"), [Inner("b"), Inner(3)], {}, Color.RED)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"field 'inners': item \[1\]: field 'name': expected str, got int"):
        TypeEngine.to_literal(bad, Outer)
    with pytest.raises(TypeError, match=r"expected .*Inner"):
        TypeEngine.to_literal(["a"], Inner)
    # a plain dict is built into the dataclass first (as the SDK does), and checked as such
    assert roundtrip({"name": "a"}, Inner) == Inner("a")
    with pytest.raises(TypeError, match=r"at \$\.name.*expected a string"):
        TypeEngine.to_literal({"name": 3}, Inner)


def test_list_of_dataclasses_holding_optional_files(tmp_path):
    path = tmp_path / "data.txt"
    path.write_text("payload")
    file = File.from_local_sync(path)
    value = [WithFile("with", file), WithFile("without")]
    back = roundtrip(value, list[WithFile])
    assert back == value
    with back[0].file.open_sync() as f:
        assert f.read() == b"payload"


def test_namedtuple_of_dataclasses():
    value = Pair(Inner("l"), Inner("r", 0.5))
    back = roundtrip(value, Pair)
    assert back == value and type(back) is Pair and type(back.left) is Inner


def test_dict_of_enums_and_enum_by_name():
    value = {"a": Color.RED, "b": Color.GREEN}
    assert roundtrip(value, dict[str, Color]) == value
    assert TypeEngine.to_literal(Color.RED, Color).value == "RED"  # by member name, not value
    with pytest.raises(TypeError, match="member of"):
        TypeEngine.to_literal("RED", Color)


def test_pydantic_models_round_trip():
    value = Person(name="Ada", age=36, addresses=[Address(street="Main", zip_code=1)], nickname=None)
    back = roundtrip(value, Person)
    assert back == value and type(back.addresses[0]) is Address
    with pytest.raises(TypeError, match=r"expected .*Person"):
        TypeEngine.to_literal(["Ada", 1], Person)
    # a plain dict is validated into the model first (as the SDK does)
    assert roundtrip({"name": "Ada", "age": 1}, Person) == Person(name="Ada", age=1)


def test_pydantic_models_nested_in_dataclasses_and_back():
    team = Team(lead=Person(name="a", age=1), members=[Person(name="b", age=2, nickname="bee")])
    assert roundtrip(team, Team) == team
    registry = Registry(teams={"core": [Inner("x")]}, color=Color.RED)
    assert roundtrip(registry, Registry) == registry


def test_pydantic_model_with_file_field(tmp_path):
    path = tmp_path / "r.txt"
    path.write_text("report")
    registry = Registry(teams={}, color=Color.GREEN, report=File.from_local_sync(path))
    back = roundtrip(registry, Registry)
    assert back == registry and isinstance(back.report, File)
    # pydantic itself accepts a File, a dict of its fields, or a path for a File field
    assert Registry(teams={}, color=Color.RED, report=str(path)).report.path == str(path)
    assert Registry.model_validate({"teams": {}, "color": Color.RED, "report": {"path": "/x"}}).report.path == "/x"
    assert "report" in Registry.model_json_schema()["properties"]


def test_pydantic_extra_fields_travel():
    value = Loose(known=1, other=[1, 2])
    back = roundtrip(value, Loose)
    assert back == value and back.other == [1, 2]
