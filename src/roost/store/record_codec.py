"""Records as plain maps, for the server's API: what ``roost get`` and ``flyte.remote`` read from a
store they cannot open themselves.

A record becomes a map of its fields (its phase as the phase's value, its error as a map); the
roost client carries these maps as msgpack, the JSON view of the API the same maps with bytes as
base64. ``from_wire`` takes back only the fields the record type has, each of the type it holds,
so a map from a newer or an unknown peer is either read or refused with one line.
"""

from __future__ import annotations

import base64
import dataclasses
from typing import Any, TypeVar

from roost.store.records import ActionPhase, ActionRecord, AttemptRecord, ErrorInfo, LogRecord, RunRecord

R = TypeVar("R", RunRecord, ActionRecord, AttemptRecord, LogRecord)

_FIELDS: dict[type, tuple[str, ...]] = {
    cls: tuple(f.name for f in dataclasses.fields(cls)) for cls in (RunRecord, ActionRecord, AttemptRecord, LogRecord)
}


class RecordFormatError(ValueError):
    """A map that is not a record of the expected type."""


def to_wire(record: RunRecord | ActionRecord | AttemptRecord | LogRecord) -> dict[str, Any]:
    data = {name: getattr(record, name) for name in _FIELDS[type(record)]}
    if "phase" in data:
        data["phase"] = data["phase"].value
    if data.get("error") is not None:
        data["error"] = dataclasses.asdict(data["error"])
    return data


def from_wire(cls: type[R], data: Any) -> R:
    if not isinstance(data, dict):
        raise RecordFormatError(f"a {cls.__name__} is a map, got {type(data).__name__}")
    known = _FIELDS[cls]
    values = {k: v for k, v in data.items() if k in known}
    try:
        if "phase" in values:
            values["phase"] = ActionPhase(values["phase"])
        error = values.get("error")
        if error is not None:
            values["error"] = ErrorInfo(**error)
        return cls(**values)
    except (TypeError, ValueError) as e:
        raise RecordFormatError(f"not a {cls.__name__}: {e}") from None


def to_json(data: Any) -> Any:
    """A wire map (or list of them) with its bytes as base64 text, for the JSON view."""
    if isinstance(data, dict):
        return {k: to_json(v) for k, v in data.items()}
    if isinstance(data, list):
        return [to_json(v) for v in data]
    if isinstance(data, bytes):
        return base64.b64encode(data).decode("ascii")
    return data
