"""The engine itself: registry, union member selection, pickle fallback, guessing types, import cost."""

from __future__ import annotations

import dataclasses
import enum
import logging
import subprocess
import sys
import typing
from typing import Annotated, Any, Optional, Union

import pytest
from typeutil import roundtrip

from roost.types import Literal, LiteralType, TypeEngine, TypeTransformer, TypeTransformerFailedError
from roost.types.engine import expect_kind


class Temperature:
    def __init__(self, kelvin: float):
        self.kelvin = kelvin

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Temperature) and other.kelvin == self.kelvin


class TemperatureTransformer(TypeTransformer[Temperature]):
    def __init__(self) -> None:
        super().__init__("temperature", Temperature)

    def to_literal(self, python_val, python_type, expected=None):
        if not isinstance(python_val, Temperature):
            raise TypeTransformerFailedError("not a Temperature")
        return Literal("float", python_val.kelvin, "temperature")

    def to_python_value(self, lv, expected_python_type):
        expect_kind(lv, "float")
        return Temperature(lv.value)


class AsyncCelsius:
    def __init__(self, degrees: float):
        self.degrees = degrees


class AsyncCelsiusTransformer(TypeTransformer[AsyncCelsius]):
    """Written the Flyte 2 way: coroutine methods."""

    def __init__(self) -> None:
        super().__init__("celsius", AsyncCelsius)

    async def to_literal(self, python_val, python_type, expected=None):
        return Literal("float", python_val.degrees)

    async def to_python_value(self, lv, expected_python_type):
        return AsyncCelsius(lv.value)


def test_register_a_transformer_and_refuse_a_second_one():
    TypeEngine.register(TemperatureTransformer())
    try:
        assert roundtrip(Temperature(300.0), Temperature) == Temperature(300.0)
        assert roundtrip([Temperature(1.0)], list[Temperature]) == [Temperature(1.0)]
        with pytest.raises(ValueError, match="already has a transformer"):
            TypeEngine.register(TemperatureTransformer())
        with pytest.raises(ValueError, match="already has a transformer"):
            TypeEngine.register(AsyncCelsiusTransformer(), additional_types=[int])
        assert AsyncCelsius not in TypeEngine._REGISTRY  # nothing registered when one type is refused
    finally:
        TypeEngine._REGISTRY.pop(Temperature, None)
        TypeEngine._CACHE.clear()


def test_builtin_types_cannot_be_registered_again():
    class IntAgain(TypeTransformer[int]):
        def __init__(self) -> None:
            super().__init__("int2", int)

    with pytest.raises(ValueError):
        TypeEngine.register(IntAgain())


def test_async_transformers_are_driven_to_completion():
    TypeEngine.register(AsyncCelsiusTransformer())
    try:
        assert roundtrip(AsyncCelsius(21.5), AsyncCelsius).degrees == 21.5

        async def inside_a_loop():
            return roundtrip(AsyncCelsius(3.0), AsyncCelsius).degrees

        import asyncio

        assert asyncio.run(inside_a_loop()) == 3.0
    finally:
        TypeEngine._REGISTRY.pop(AsyncCelsius, None)
        TypeEngine._CACHE.clear()


def test_annotated_with_a_transformer_uses_it():
    tp = Annotated[Temperature, TemperatureTransformer()]
    assert roundtrip(Temperature(5.0), tp) == Temperature(5.0)
    assert TypeEngine.get_transformer(tp).name == "temperature"


@pytest.mark.parametrize(
    ("tp", "value", "kind"),
    [
        (Union[int, str], 3, int),
        (Union[int, str], "3", str),
        (Union[float, int], 3, int),
        (Union[float, int], 3.0, float),
        (Union[int, float], 3.0, float),
        (Union[int, bool], True, bool),
        (Union[bool, int], 1, int),
        (int | str, "x", str),
        (Optional[int], None, type(None)),
        (Optional[int], 5, int),
        (Union[list[int], list[str]], ["a"], list),
        (Union[dict[str, int], list[int]], {"a": 1}, dict),
    ],
)
def test_union_keeps_the_member_type(tp, value, kind):
    back = roundtrip(value, tp)
    assert back == value and type(back) is kind


def test_union_of_lists_picks_the_member_that_fits():
    assert roundtrip(["a", "b"], Union[list[int], list[str]]) == ["a", "b"]
    lit = TypeEngine.to_literal(["a"], Union[list[int], list[str]])
    assert lit.kind == "union" and lit.meta == "list[str]"


def test_union_coerces_int_to_float_only_when_no_exact_member():
    back = roundtrip(3, Union[float, str])
    assert back == 3.0 and type(back) is float


def test_union_refuses_values_of_no_member():
    with pytest.raises(TypeError, match="matches no member"):
        TypeEngine.to_literal(1.5, Union[int, str])
    with pytest.raises(TypeError, match="None is not a valid value"):
        TypeEngine.to_literal(None, Union[int, str])


@dataclasses.dataclass
class A:
    x: int


@dataclasses.dataclass
class B:
    x: int


def test_union_of_look_alike_dataclasses_keeps_the_class():
    assert type(roundtrip(B(1), Union[A, B])) is B
    assert type(roundtrip(A(1), Union[A, B])) is A


def test_pickle_fallback_logs_once_naming_the_type(caplog):
    # At debug level: a run warns once per task instead (tests/types/test_sdk_types.py), since the
    # engine runs again in each worker process.
    class Opaque:
        def __init__(self, v):
            self.v = v

    with caplog.at_level(logging.DEBUG, logger="roost"):
        for i in range(3):
            assert roundtrip(Opaque(i), Opaque).v == i
        assert roundtrip({1, 2}, frozenset[int]) == {1, 2}
    warnings = [r.getMessage() for r in caplog.records if "pickled" in r.getMessage()]
    assert len([w for w in warnings if "Opaque" in w]) == 1
    assert len([w for w in warnings if "frozenset[int]" in w]) == 1


def test_bare_list_and_set_are_pickled():
    assert TypeEngine.to_literal([1, "a"], list).kind == "pickle"
    assert roundtrip({1, 2}, set) == {1, 2}
    assert roundtrip((1, "a"), tuple) == (1, "a")


class Mood(enum.Enum):
    HAPPY = "h"
    SAD = "s"


@dataclasses.dataclass
class Guessable:
    n: int
    tags: list[str]


@pytest.mark.parametrize(
    "tp", [int, float, str, bool, bytes, list[int], dict[str, float], Optional[int], Mood, Guessable, dict[int, str]]
)
def test_guess_python_type_inverts_to_literal_type(tp):
    assert TypeEngine.guess_python_type(TypeEngine.to_literal_type(tp)) == tp


def test_guess_python_type_of_unknown_record_builds_a_dataclass():
    lt = LiteralType(
        "record", (LiteralType("int"), LiteralType("list", (LiteralType("str"),))), ("a", "b"), "gone:Thing"
    )
    cls = TypeEngine.guess_python_type(lt)
    assert dataclasses.is_dataclass(cls) and cls.__name__ == "Thing"
    assert typing.get_type_hints(cls) == {"a": int, "b": list[str]}
    assert roundtrip(cls(1, ["x"]), cls) == cls(1, ["x"])


def test_literal_type_strings_name_the_structure():
    assert str(TypeEngine.to_literal_type(dict[str, list[Optional[int]]])) == "map[list[union[int,none]]]"
    assert str(TypeEngine.to_literal_type(Any)) == "pickle<typing.Any>"


def test_importing_the_types_layer_imports_no_heavy_dependency():
    code = (
        "import sys, roost.types, roost.types.task_io, roost.io;"
        "heavy = [m for m in ('pandas', 'pyarrow', 'pydantic', 'fsspec', 'numpy') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""
