"""How an action's inputs and outputs become bytes for the store, and values again for the caller.

This is the controller's one door to the data layer (``roost.types.task_io``): inputs are converted and
type-checked when a call is made, outputs when the task returns, both are held to the task's
``max_inline_io_bytes``, and the callee and the caller receive values converted back -- exactly as
if they had crossed a process or a machine, so local runs behave as cluster runs do.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import msgpack

from roost.task import TaskTemplate
from roost.types import task_io as io

# Values of these exact types come back from a round trip through their literal unchanged and are
# immutable, so handing over the original is the same as converting back -- and much cheaper.
_SELF_CONVERTING = frozenset({int, str, bool, float, bytes, type(None)})


@dataclass(slots=True)
class EncodedInputs:
    data: bytes
    hash: str
    # The bound values themselves, when converting them back would give equal immutable values.
    reusable: dict[str, Any] | None = None


def _unchanged_by_round_trip(value: Any, declared: Any) -> bool:
    cls = type(value)
    return cls is declared and cls in _SELF_CONVERTING


def encode_inputs(task: TaskTemplate[Any], bound: dict[str, Any]) -> EncodedInputs:
    """Bound call arguments as packed literals and their hash (TypeError naming a mistyped input)."""
    inputs = task.interface.inputs
    literals = io.inputs_to_literals(task.name, inputs, bound)
    data = io.pack(literals)
    if len(data) > task.max_inline_io_bytes:
        io.check_inline_size(task.name, literals, task.max_inline_io_bytes, "input")
    reusable = bound if all(_unchanged_by_round_trip(v, inputs[k][0]) for k, v in bound.items()) else None
    return EncodedInputs(data, io.literals_hash(literals), reusable)


def decode_inputs(task: TaskTemplate[Any] | None, data: bytes) -> dict[str, Any]:
    """The inputs as the task's code receives them (or, without the task, as plain values)."""
    literals = io.unpack(data)
    if task is None:
        return io.literals_to_native(literals)
    return io.literals_to_inputs(task.interface.inputs, literals)


@dataclass(slots=True)
class EncodedOutputs:
    data: bytes
    # The returned value itself, when converting it back would give an equal immutable value.
    value: Any = None
    reusable: bool = False


def encode_outputs(task: TaskTemplate[Any], result: Any) -> EncodedOutputs:
    """A task's return value as packed literals (RuntimeDataValidationError for a mistyped output)."""
    iface = task.interface
    literals = io.outputs_to_literals(task.name, iface.outputs, result, iface.return_type)
    data = io.pack(literals)
    if len(data) > task.max_inline_io_bytes:
        io.check_inline_size(task.name, literals, task.max_inline_io_bytes, "output")
    outputs = iface.outputs
    if not outputs:
        return EncodedOutputs(data, None, True)
    if len(outputs) == 1:
        (declared,) = outputs.values()
        return EncodedOutputs(data, result, _unchanged_by_round_trip(result, declared))
    return EncodedOutputs(data)


def decode_outputs(task: TaskTemplate[Any] | None, data: bytes, preserve_original_types: bool = True) -> Any:
    """What the caller of the task receives (without the task: plain values, a tuple for several).

    ``preserve_original_types=False`` (a Run's outputs, as the SDK reads them): data frames come back
    as ``flyte.io.DataFrame`` references rather than as the pandas / pyarrow type declared.
    """
    literals = io.unpack(data)
    if task is None:
        native = list(io.literals_to_native(literals).values())
        return None if not native else native[0] if len(native) == 1 else tuple(native)
    iface = task.interface
    if preserve_original_types:  # as declared: every caller of a task (no block to enter on that path)
        return io.literals_to_outputs(iface.outputs, literals, iface.return_type)
    with io.frames_as_references():
        return io.literals_to_outputs(iface.outputs, literals, iface.return_type)


def cache_inputs_hash(data: bytes, ignored: tuple[str, ...]) -> str:
    """The hash of packed inputs without the ``ignored`` ones (the first part of the cache key)."""
    return io.literals_hash(io.unpack(data), ignore=ignored)


def pickled_parts(task: TaskTemplate[Any]) -> list[str]:
    """The task's inputs and outputs that will travel pickled for want of a transformer (see io)."""
    iface = task.interface
    return io.pickled_parts(iface.inputs, iface.outputs, iface.unannotated)


def interface_hash(task: TaskTemplate[Any]) -> str:
    """The hash of the task's typed interface (cache key part 3)."""
    return io.interface_hash(task.interface.inputs, task.interface.outputs)


def pack_plain(values: dict[str, Any]) -> bytes:
    """Input values as plain data for a server that converts them to a task's declared types: a
    dataclass or model as its fields, an enum as its value, a time as a timestamp (UTC when it
    names no zone)."""
    aware = {k: v.replace(tzinfo=timezone.utc) if isinstance(v, datetime) and v.tzinfo is None else v
             for k, v in values.items()}  # fmt: skip
    try:
        return msgpack.packb(aware, use_bin_type=True, datetime=True, default=_plain)  # type: ignore[no-any-return]
    except (TypeError, ValueError) as e:
        raise TypeError(f"the inputs must be plain values ({e})") from None


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, enum.Enum):
        return value.value
    raise TypeError(f"a {type(value).__name__} value cannot be sent")
