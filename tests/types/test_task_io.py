"""roost.types.task_io: the run engine's API for a task's inputs and outputs."""

from __future__ import annotations

import dataclasses
import inspect
import os
import subprocess
import sys
import textwrap
from typing import Any, NamedTuple, Optional

import pytest

from roost.errors import InlineIOMaxBytesBreached, RuntimeDataValidationError
from roost.interface import NativeInterface
from roost.types import File
from roost.types.literals import Literal
from roost.types.task_io import (
    MAX_INLINE_IO_BYTES,
    check_inline_size,
    inputs_to_literals,
    interface_hash,
    literals_hash,
    literals_to_inputs,
    literals_to_outputs,
    outputs_to_literals,
    pack,
    unpack,
)

EMPTY = inspect.Parameter.empty


@dataclasses.dataclass
class Config:
    name: str
    ratio: float = 0.5


class Stats(NamedTuple):
    mean: float
    count: int


class Single(NamedTuple):
    only: str


def interface(fn):
    return NativeInterface.from_callable(fn)


def test_inputs_round_trip_with_defaults_applied():
    def task(a: int, b: list[str], c: Optional[Config] = None, d: float = 1.5):
        pass

    iface = interface(task)
    lits = inputs_to_literals("t", iface.inputs, {"a": 1, "b": ["x"], "c": Config("n")})
    assert set(lits) == {"a", "b", "c", "d"}
    back = literals_to_inputs(iface.inputs, unpack(pack(lits)))
    assert back == {"a": 1, "b": ["x"], "c": Config("n"), "d": 1.5}
    # inputs without a literal take their default on the way back too
    assert literals_to_inputs(iface.inputs, {"a": lits["a"], "b": lits["b"]})["d"] == 1.5


def test_wrong_input_type_names_task_variable_expected_and_given():
    def task(x: int, y: str = "a"):
        pass

    iface = interface(task)
    with pytest.raises(TypeError) as info:
        inputs_to_literals("my_env.task", iface.inputs, {"x": "abc"})
    message = str(info.value)
    assert "type conversion failed for variable 'x'" in message
    assert "my_env.task" in message and "expected int" in message and "got str" in message and "'abc'" in message


def test_tuple_for_a_non_tuple_input_is_a_type_error():
    def task(x: int):
        pass

    with pytest.raises(TypeError, match="variable 'x'"):
        inputs_to_literals("t", interface(task).inputs, {"x": (1, 2)})


def test_missing_and_unknown_inputs():
    def task(x: int):
        pass

    with pytest.raises(ValueError, match="missing required inputs: x"):
        inputs_to_literals("t", interface(task).inputs, {})
    with pytest.raises(ValueError, match="unexpected inputs: z"):
        inputs_to_literals("t", interface(task).inputs, {"x": 1, "z": 2})


def test_unannotated_inputs_are_pickled():
    def task(x, y: int = 2):
        pass

    iface = interface(task)
    lits = inputs_to_literals("t", iface.inputs, {"x": {1, 2}})
    assert lits["x"].kind == "pickle"
    assert literals_to_inputs(iface.inputs, lits) == {"x": {1, 2}, "y": 2}


def test_missing_file_input_is_a_clear_value_error(tmp_path, blobs_dir):
    def task(f: File):
        pass

    missing = tmp_path / "nope.csv"
    with pytest.raises(ValueError, match=r"variable 'f'.*file not found: .*nope\.csv"):
        inputs_to_literals("t", interface(task).inputs, {"f": File(path=str(missing))})
    assert not blobs_dir.exists() or not any(p.is_file() for p in blobs_dir.rglob("*"))


def test_single_output():
    def task() -> list[int]:
        return [1]

    iface = interface(task)
    lits = outputs_to_literals("t", iface.outputs, [1, 2])
    assert list(lits) == ["o0"]
    assert literals_to_outputs(iface.outputs, lits) == [1, 2]
    with pytest.raises(ValueError, match="no value for outputs: o0"):
        literals_to_outputs(iface.outputs, {})


def test_multiple_outputs_as_a_tuple():
    def task() -> tuple[int, str]:
        return 1, "a"

    iface = interface(task)
    lits = outputs_to_literals("t", iface.outputs, (1, "a"))
    assert list(lits) == ["o0", "o1"]
    assert literals_to_outputs(iface.outputs, lits) == (1, "a")


def test_namedtuple_outputs_come_back_as_the_namedtuple():
    def task() -> Stats:
        return Stats(1.5, 2)

    iface = interface(task)
    lits = outputs_to_literals("t", iface.outputs, Stats(1.5, 2), iface.return_type)
    assert list(lits) == ["mean", "count"]
    back = literals_to_outputs(iface.outputs, lits, iface.return_type)
    assert back == Stats(1.5, 2) and type(back) is Stats
    assert literals_to_outputs(iface.outputs, lits) == (1.5, 2)


def test_one_field_namedtuple_output():
    def task() -> Single:
        return Single("x")

    iface = interface(task)
    lits = outputs_to_literals("t", iface.outputs, Single("x"))
    assert literals_to_outputs(iface.outputs, lits, iface.return_type) == Single("x")


def test_no_outputs():
    def task() -> None:
        pass

    iface = interface(task)
    assert outputs_to_literals("t", iface.outputs, None) == {}
    assert outputs_to_literals("t", iface.outputs, 42) == {}  # dropped, as on the platform
    assert literals_to_outputs(iface.outputs, {}) is None


def test_tuple_returned_for_one_output_is_an_assertion_error():
    def task() -> int:
        return 1

    with pytest.raises(AssertionError, match="received 2 outputs but the annotation declares 1"):
        outputs_to_literals("t", interface(task).outputs, (1, 2))


def test_tuple_returned_for_an_optional_tuple_output_is_fine():
    def task() -> Optional[tuple[int, int]]:
        return 1, 2

    iface = interface(task)
    assert literals_to_outputs(iface.outputs, outputs_to_literals("t", iface.outputs, (1, 2))) == (1, 2)


def test_wrong_output_count_is_an_assertion_error():
    def task() -> tuple[int, str]:
        return 1, "a"

    iface = interface(task)
    with pytest.raises(AssertionError, match="received 3 outputs but the annotation declares 2"):
        outputs_to_literals("t", iface.outputs, (1, "a", 3))
    with pytest.raises(AssertionError, match="received 1 outputs"):
        outputs_to_literals("t", iface.outputs, 1)


def test_wrong_output_type_is_a_data_validation_error():
    def task() -> tuple[int, str]:
        return 1, 2

    with pytest.raises(RuntimeDataValidationError) as info:
        outputs_to_literals("my.task", interface(task).outputs, (1, 2))
    err = info.value
    assert err.code == "DataValidationError" and err.var == "o1" and err.task_name == "my.task"
    assert "expected str, got int" in str(err)


def test_none_output_for_non_optional_type():
    def task() -> int:
        return None  # type: ignore[return-value]

    with pytest.raises(RuntimeDataValidationError, match="None is not a valid value"):
        outputs_to_literals("t", interface(task).outputs, None)


# -- pack / hash -------------------------------------------------------------------------------------------


def _lits(values: dict[str, Any], types: dict[str, Any]) -> dict[str, Literal]:
    return inputs_to_literals("t", {k: (types[k], EMPTY) for k in values}, values)


def test_pack_is_deterministic_and_round_trips():
    types = {"a": dict[str, int], "b": list[float], "c": Optional[str]}
    lits = _lits({"a": {"x": 1, "y": 2}, "b": [1.0, float("nan")], "c": None}, types)
    assert pack(lits) == pack(_lits({"a": {"x": 1, "y": 2}, "b": [1.0, float("nan")], "c": None}, types))
    assert unpack(pack(lits)) == lits or pack(unpack(pack(lits))) == pack(lits)
    with pytest.raises(ValueError, match="not a roost literal map"):
        unpack(b"\xc1garbage")


def test_hash_ignores_dict_order_and_input_order():
    types = {"m": dict[str, int], "n": int, "u": dict}
    one = _lits({"m": {"a": 1, "b": 2}, "n": 3, "u": {"k": {"x": 1, "y": [1]}}}, types)
    two = _lits({"u": {"k": {"y": [1], "x": 1}}, "n": 3, "m": {"b": 2, "a": 1}}, types)
    assert literals_hash(one) == literals_hash(two)
    assert literals_hash(one) != literals_hash(_lits({"m": {"a": 1, "b": 3}, "n": 3, "u": {}}, types))


def test_hash_can_ignore_inputs():
    types = {"data": str, "stamp": str}
    one = _lits({"data": "x", "stamp": "monday"}, types)
    two = _lits({"data": "x", "stamp": "tuesday"}, types)
    assert literals_hash(one) != literals_hash(two)
    assert literals_hash(one, ignore=["stamp"]) == literals_hash(two, ignore=("stamp",))


def test_file_contributes_its_content_hash_not_its_path(tmp_path):
    path = tmp_path / "f.txt"
    path.write_text("same content")
    a = Literal("file", {"path": "/somewhere/a", "name": "a", "format": "", "hash": "h1"})
    b = Literal("file", {"path": "s3://elsewhere/b", "name": "b", "format": "", "hash": "h1"})
    c = Literal("file", {"path": "/somewhere/a", "name": "a", "format": "", "hash": "h2"})
    assert literals_hash({"f": a}) == literals_hash({"f": b}) != literals_hash({"f": c})
    copy = tmp_path / "copy.txt"
    copy.write_text("same content")
    one = _lits({"f": File.from_local_sync(path)}, {"f": File})
    two = _lits({"f": File.from_local_sync(copy)}, {"f": File})
    assert literals_hash(one) == literals_hash(two)


HASH_SCRIPT = textwrap.dedent(
    """
    import dataclasses, datetime, enum, inspect, sys
    from decimal import Decimal
    from typing import Optional
    from roost.types.task_io import inputs_to_literals, literals_hash, pack

    class Color(enum.Enum):
        RED = 1

    @dataclasses.dataclass
    class Row:
        name: str
        values: dict[str, float]

    order = sys.argv[1]
    values = {
        "rows": [Row("a", {"x": 1.5, "y": -2.0})],
        "when": datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc),
        "amount": Decimal("10.50"),
        "color": Color.RED,
        "maybe": None,
        "big": 10**30,
        "text": "héllo",
        "mapping": {"b": 2, "a": 1} if order == "1" else {"a": 1, "b": 2},
    }
    types = {
        "rows": list[Row], "when": datetime.datetime, "amount": Decimal, "color": Color,
        "maybe": Optional[int], "big": int, "text": str, "mapping": dict[str, int],
    }
    names = list(values) if order == "1" else list(reversed(values))
    inputs = {n: (types[n], inspect.Parameter.empty) for n in names}
    lits = inputs_to_literals("t", inputs, {n: values[n] for n in names})
    print(literals_hash(lits))
    """
)


def test_hash_is_stable_across_processes_and_hash_seeds(tmp_path):
    script = tmp_path / "hash_me.py"
    script.write_text(HASH_SCRIPT)
    digests = set()
    for seed, order in (("1", "1"), ("2", "2"), ("3", "1")):
        result = subprocess.run(
            [sys.executable, str(script), order],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        digests.add(result.stdout.strip())
    assert len(digests) == 1 and len(digests.pop()) == 64


def test_interface_hash_depends_on_types_not_defaults():
    def a(x: int, y: str = "a") -> float:
        return 1.0

    def b(y: str = "b", x: int = 3) -> float:
        return 1.0

    def c(x: int, y: bytes = b"a") -> float:
        return 1.0

    ia, ib, ic = interface(a), interface(b), interface(c)
    assert interface_hash(ia.inputs, ia.outputs) == interface_hash(ib.inputs, ib.outputs)
    assert interface_hash(ia.inputs, ia.outputs) != interface_hash(ic.inputs, ic.outputs)


# -- inline size ---------------------------------------------------------------------------------------------


def test_inline_limit_is_ten_mib_by_default():
    assert MAX_INLINE_IO_BYTES == 10 * 1024 * 1024


def test_inline_size_check_names_the_value_and_suggests_offloading():
    lits = _lits({"small": "x", "blob": "y" * 2000}, {"small": str, "blob": str})
    check_inline_size("t", lits, 10_000, "input")
    with pytest.raises(InlineIOMaxBytesBreached) as info:
        check_inline_size("my.task", lits, 1000, "input")
    message = str(info.value)
    assert "input 'blob'" in message and "1000 bytes" in message and "my.task" in message
    assert "File" in message and "DataFrame" in message
    assert info.value.code == "InlineIOMaxBytesBreached"


def test_inline_size_counts_a_file_by_its_reference(tmp_path):
    path = tmp_path / "big.bin"
    path.write_bytes(b"\0" * 200_000)
    lits = _lits({"f": File.from_local_sync(path)}, {"f": File})
    check_inline_size("t", lits, 1000, "output")
    big = outputs_to_literals("t", {"o0": bytes}, b"\0" * 200_000)
    with pytest.raises(InlineIOMaxBytesBreached, match="output 'o0'"):
        check_inline_size("t", big, 100_000, "output")
