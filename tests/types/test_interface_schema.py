"""JSON schemas of types and task interfaces (roost run --help, input forms)."""

from __future__ import annotations

import dataclasses
import datetime
import enum
from typing import Any, NamedTuple, Optional, TypedDict

import pandas as pd
import pydantic

from roost.interface import NativeInterface
from roost.types import DataFrame, Dir, File
from roost.types.schema import interface_schema, type_schema


class Color(enum.Enum):
    RED = 1
    BLUE = 2


@dataclasses.dataclass
class Point:
    x: int
    y: float = 0.0
    label: Optional[str] = None


@dataclasses.dataclass
class Tree:
    value: int
    children: list[Tree] = dataclasses.field(default_factory=list)


class Pair(NamedTuple):
    a: int
    b: str = "x"


class Opts(TypedDict, total=False):
    depth: int


class Model(pydantic.BaseModel):
    name: str
    report: Optional[File] = None


def test_primitive_and_container_schemas():
    assert type_schema(int) == {"type": "integer"}
    assert type_schema(datetime.datetime) == {"type": "string", "format": "date-time"}
    assert type_schema(list[str]) == {"type": "array", "items": {"type": "string"}}
    assert type_schema(dict[str, float]) == {"type": "object", "additionalProperties": {"type": "number"}}
    assert type_schema(Optional[int]) == {"anyOf": [{"type": "integer"}, {"type": "null"}]}
    assert type_schema(set[int])["uniqueItems"] is True
    assert type_schema(tuple[int, str])["prefixItems"] == [{"type": "integer"}, {"type": "string"}]
    assert type_schema(Any) == {}


def test_record_schemas():
    point = type_schema(Point)
    assert point["title"] == "Point" and point["required"] == ["x"]
    assert point["properties"]["label"] == {"anyOf": [{"type": "string"}, {"type": "null"}]}
    assert type_schema(Pair)["required"] == ["a"]
    assert type_schema(Opts)["required"] == []
    assert type_schema(Color) == {"type": "string", "enum": ["RED", "BLUE"], "title": "Color"}
    tree = type_schema(Tree)
    assert tree["properties"]["children"]["items"]["title"] == "Tree"
    model = type_schema(Model)
    assert model["title"] == "Model" and "report" in model["properties"]


def test_files_and_frames_are_paths():
    for tp, title in ((File, "File"), (Dir, "Dir"), (DataFrame, "DataFrame"), (pd.DataFrame, "DataFrame")):
        assert type_schema(tp) == {"type": "string", "format": "uri-reference", "title": title}


def test_interface_schema_with_defaults():
    def task(p: Point, color: Color = Color.RED, when: datetime.date = datetime.date(2024, 1, 1), n=3, f: File = None):  # type: ignore[assignment]
        pass

    schema = interface_schema(NativeInterface.from_callable(task))
    assert schema["required"] == ["p"]
    assert schema["properties"]["color"]["default"] == "RED"
    assert schema["properties"]["when"]["default"] == "2024-01-01"
    assert schema["properties"]["n"] == {"type": "string", "default": 3}
    assert schema["properties"]["f"]["default"] is None
