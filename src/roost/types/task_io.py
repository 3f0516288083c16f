"""The run engine's door to the data layer: a task's inputs and outputs as literals, bytes and hashes.

Shapes follow ``NativeInterface``: ``inputs`` maps a name to ``(type, default)`` (default
``inspect.Parameter.empty`` when required, type ``typing.Any`` when unannotated); ``outputs`` maps
``o0, o1, ...`` (or a NamedTuple's field names) to types.

Errors (as in Flyte): a bad input is a ``TypeError`` naming the task, the variable, the expected and the
given type (a ``ValueError`` when the value has the right type but cannot be used, such as a File whose
path does not exist); a bad output is ``RuntimeDataValidationError``; a wrong number of outputs is an
``AssertionError``.
"""

from __future__ import annotations

import hashlib
import inspect
import typing
from collections.abc import Iterable
from typing import Any
from typing import Literal as TypingLiteral

from roost.errors import InlineIOMaxBytesBreached, RuntimeDataValidationError
from roost.types._native import to_native
from roost.types._typing import is_namedtuple, is_union, short_repr, strip_annotated, type_name
from roost.types.cli_values import parse_cli_value
from roost.types.engine import TypeEngine, TypeTransformerFailedError
from roost.types.literals import (
    Literal,
    LiteralType,
    hash_literals,
    literal_size,
    pack_literals,
    unpack_literals,
)
from roost.types.transformers.dataframes import frames_as_references
from roost.types.transformers.pickle import CHOSEN as PICKLE_CHOSEN

__all__ = [
    "MAX_INLINE_IO_BYTES",
    "check_inline_size",
    "frames_as_references",
    "inputs_to_literals",
    "interface_hash",
    "literals_hash",
    "literals_to_inputs",
    "literals_to_native",
    "literals_to_outputs",
    "outputs_to_literals",
    "pack",
    "parse_cli_value",
    "pickled_parts",
    "unpack",
]

MAX_INLINE_IO_BYTES = 10 * 1024 * 1024
EMPTY = inspect.Parameter.empty


def _conversion_error(task_name: str, name: str, tp: Any, value: Any, e: BaseException) -> Exception:
    where = f" of task '{task_name}'" if task_name else ""
    text = (
        f"type conversion failed for variable '{name}'{where}: expected {type_name(tp)}, "
        f"got {type_name(type(value))} (value {short_repr(value)}): {e}"
    )
    # A value of the right type that cannot be used (a File whose path is missing) stays a ValueError.
    if isinstance(e, ValueError) and not isinstance(e, (TypeTransformerFailedError, TypeError)):
        return ValueError(text)
    return TypeError(text)


def inputs_to_literals(
    task_name: str, inputs: dict[str, tuple[Any, Any]], values: dict[str, Any]
) -> dict[str, Literal]:
    """Check and convert a call's inputs; missing ones take the signature's default."""
    unknown = [n for n in values if n not in inputs]
    if unknown:
        raise ValueError(
            f"Task {task_name} got unexpected inputs: {', '.join(unknown)} (inputs: {', '.join(inputs) or 'none'})"
        )
    literals: dict[str, Literal] = {}
    missing = []
    for name, (tp, default) in inputs.items():
        if name in values:
            value = values[name]
        elif default is not EMPTY:
            value = default
        else:
            missing.append(name)
            continue
        try:
            literals[name] = TypeEngine.to_literal(value, tp)
        except (TypeError, ValueError) as e:
            raise _conversion_error(task_name, name, tp, value, e) from e
    if missing:
        raise ValueError(f"Task {task_name}: missing required inputs: {', '.join(missing)}")
    return literals


def literals_to_inputs(inputs: dict[str, tuple[Any, Any]], literals: dict[str, Literal]) -> dict[str, Any]:
    """The keyword arguments for the task function; inputs without a literal take their default."""
    values: dict[str, Any] = {}
    for name, (tp, default) in inputs.items():
        if name in literals:
            values[name] = TypeEngine.to_python_value(literals[name], tp)
        elif default is not EMPTY:
            values[name] = default
        else:
            raise ValueError(f"no value for required input '{name}'")
    return values


def literals_to_native(literals: dict[str, Literal]) -> dict[str, Any]:
    """Named literals as plain values, without the Python types that produced them (never raises).

    For reading a run where the task's code is not loaded (the CLI, ``Run.get`` in another process):
    primitives as themselves (datetimes aware, in UTC); lists, dicts and tuples of decoded members;
    dataclasses, pydantic models and TypedDicts as dicts of field name to value; NamedTuples as such a
    dict when the class is already imported here, else as tuples (their wire form has no field names);
    enums as the member name; a union as the member it holds; File / Dir / DataFrame as references;
    pickled values unpickled, or ``"<pickled TypeName>"`` where that fails. A ``dict[K, V]`` whose keys
    do not survive decoding as distinct hashable values is a list of ``(key, value)`` pairs.
    """
    return {name: to_native(lit) for name, lit in literals.items()}


def _accepts_tuple(tp: Any) -> bool:
    """Can a tuple be a value of ``tp``? (Then a tuple returned for one output is not a count mismatch.)"""
    tp, _ = strip_annotated(tp)
    if tp in (Any, tuple, object) or is_namedtuple(tp) or typing.get_origin(tp) is tuple:
        return True
    return is_union(tp) and any(_accepts_tuple(m) for m in typing.get_args(tp))


def _count_error(task_name: str, received: int, outputs: dict[str, Any]) -> AssertionError:
    return AssertionError(
        f"Task {task_name} received {received} outputs but the annotation declares {len(outputs)} "
        f"({', '.join(outputs) or 'none'})"
    )


def outputs_to_literals(
    task_name: str, outputs: dict[str, Any], result: Any, return_type: Any = None
) -> dict[str, Literal]:
    """Check and convert what the task function returned."""
    if not outputs:
        return {}  # the return value of a task without outputs is dropped, as on the platform
    names = list(outputs)
    if len(names) == 1:
        tp = outputs[names[0]]
        if names[0] != "o0" and isinstance(result, tuple) and len(result) == 1:
            values: tuple[Any, ...] = (result[0],)  # a one-field NamedTuple return
        elif isinstance(result, tuple) and not _accepts_tuple(tp):
            raise _count_error(task_name, len(result), outputs)
        else:
            values = (result,)
    else:
        if not isinstance(result, tuple):
            raise _count_error(task_name, 1, outputs)
        if len(result) != len(names):
            raise _count_error(task_name, len(result), outputs)
        values = tuple(result)
    literals: dict[str, Literal] = {}
    for name, value in zip(names, values):
        tp = outputs[name]
        try:
            literals[name] = TypeEngine.to_literal(value, tp)
        except (TypeError, ValueError) as e:
            raise RuntimeDataValidationError(
                name,
                f"expected {type_name(tp)}, got {type_name(type(value))} (value {short_repr(value)}): {e}",
                task_name,
            ) from e
    return literals


def literals_to_outputs(outputs: dict[str, Any], literals: dict[str, Literal], return_type: Any = None) -> Any:
    """What the caller of the task receives: None, the value, or a tuple (the NamedTuple if declared)."""
    if not outputs:
        return None
    missing = [name for name in outputs if name not in literals]
    if missing:
        raise ValueError(f"no value for outputs: {', '.join(missing)} (have: {', '.join(literals) or 'none'})")
    values = [TypeEngine.to_python_value(literals[name], tp) for name, tp in outputs.items()]
    if return_type is not None and is_namedtuple(strip_annotated(return_type)[0]):
        return strip_annotated(return_type)[0](*values)
    if len(values) == 1:
        return values[0]
    return tuple(values)


def pack(literals: dict[str, Literal]) -> bytes:
    """Named literals as bytes (msgpack): what the run store keeps."""
    return pack_literals(literals)


def unpack(data: bytes) -> dict[str, Literal]:
    return unpack_literals(data)


def literals_hash(literals: dict[str, Literal], ignore: Iterable[str] = ()) -> str:
    """SHA-256 (hex) of the literals' canonical form: independent of dict order, stable across processes;
    File / Dir / DataFrame values count by content hash, not path (as Flyte's key). ``ignore`` drops inputs."""
    skip = set(ignore)
    return hash_literals({k: v for k, v in literals.items() if k not in skip})


def interface_hash(inputs: dict[str, tuple[Any, Any]], outputs: dict[str, Any]) -> str:
    """SHA-256 (hex) of the typed interface, inputs and outputs sorted by name (cache key part 3)."""
    parts = [f"i:{n}:{TypeEngine.to_literal_type(tp)}" for n, (tp, _) in sorted(inputs.items())]
    parts += [f"o:{n}:{TypeEngine.to_literal_type(tp)}" for n, tp in sorted(outputs.items())]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def pickled_parts(
    inputs: dict[str, tuple[Any, Any]], outputs: dict[str, Any], unannotated: Iterable[str] = ()
) -> list[str]:
    """The inputs and outputs whose values will travel pickled for want of a transformer, as
    ``"input 'x' (typing.Any)"``, or whose fields or items will (``"output 'o0' (list)"``).

    ``FlytePickle`` declarations are chosen, not fallen back on: they are not listed.
    """
    parts = []
    bare = set(unannotated)
    for kind, entries in (("input", {n: tp for n, (tp, _) in inputs.items()}), ("output", outputs)):
        for name, tp in entries.items():
            if kind == "input" and name in bare:
                parts.append(f"input '{name}' (no annotation)")
                continue
            found = _pickled_names(TypeEngine.to_literal_type(tp))
            if found:
                parts.append(f"{kind} '{name}' ({', '.join(dict.fromkeys(found))})")
    return parts


def _pickled_names(lt: LiteralType) -> list[str]:
    if lt.kind == "pickle":
        return [] if lt.name.startswith(PICKLE_CHOSEN) else [lt.name or "a value"]
    return [n for arg in lt.args for n in _pickled_names(arg)]


def _mib(n: int) -> str:
    return f"{n / (1024 * 1024):.2f} MiB" if n >= 1024 * 1024 else f"{n} bytes"


def check_inline_size(
    task_name: str, literals: dict[str, Literal], limit: int, kind: TypingLiteral["input", "output"]
) -> None:
    """Raise InlineIOMaxBytesBreached when the inline values exceed ``limit`` bytes together.

    Every value is measured in its stored form; a File / Dir / DataFrame counts only its reference.
    The message names the largest value, since moving that one to a File is usually the fix.
    """
    if not literals or len(pack_literals(literals)) <= limit:  # one encoding in the common case
        return
    sizes = {name: literal_size(lit) for name, lit in literals.items()}
    total = sum(sizes.values())
    if total <= limit:  # only the map's few framing bytes were over
        return
    largest = max(sizes, key=sizes.__getitem__)
    noun = "outputs" if kind == "output" else "inputs"
    raise InlineIOMaxBytesBreached(
        f"Task {task_name}: {kind} '{largest}' is {_mib(sizes[largest])} ({sizes[largest]} bytes; all {noun} "
        f"together {total} bytes), above the task's max_inline_io_bytes limit of {_mib(limit)} ({limit} bytes). "
        "Pass large data as a flyte.io.File, Dir or DataFrame (stored in the blob store, passed by reference), "
        "or raise max_inline_io_bytes on the task."
    )


def literal_type_of(python_type: Any) -> LiteralType:
    return TypeEngine.to_literal_type(python_type)
