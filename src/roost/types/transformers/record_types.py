"""Dataclasses (nested, generic) and pydantic models: records of named, typed fields.

A plain dict given for either is built into the class first (as the SDK does for ``flyte.run`` inputs).
Each field is converted by the engine with its own declared type, so a File or a DataFrame inside a
dataclass is still a blob reference, and an Optional field still records which member it used.
Pydantic is never imported here: a class can only be a BaseModel if the program imported pydantic.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import typing
from typing import Any

from roost.types._typing import (
    dataclass_fields,
    import_qualified,
    is_pydantic_model,
    qualified_name,
    type_name,
)
from roost.types.engine import TypeEngine, TypeTransformer, TypeTransformerFailedError, expect_kind
from roost.types.literals import Literal, LiteralType

logger = logging.getLogger("roost")

# Field lists per type, and the types whose literal type is being built (self-referencing records).
_FIELDS: dict[Any, tuple[type, list[tuple[str, Any, bool]]]] = {}
_building = threading.local()


def _record_literal_type(tp: Any, cls: type, fields: list[tuple[str, Any, bool]]) -> LiteralType:
    stack: set[Any] = getattr(_building, "stack", None) or set()
    _building.stack = stack
    name = qualified_name(cls)
    if tp in stack:  # a record that contains itself: refer to it by name
        return LiteralType("record", name=name)
    stack.add(tp)
    try:
        names = tuple(n for n, _, _ in fields)
        return LiteralType("record", tuple(TypeEngine.to_literal_type(h) for _, h, _ in fields), names, name)
    finally:
        stack.discard(tp)


def _convert_fields(value: Any, fields: list[tuple[str, Any, bool]], getter: Any) -> dict[str, Literal]:
    out = {}
    for name, hint, _ in fields:
        try:
            out[name] = TypeEngine.to_literal(getter(value, name), hint)
        except TypeError as e:
            raise TypeTransformerFailedError(f"field {name!r}: {e}") from e
    return out


def _dataclass_from_dict(value: dict[str, Any], python_type: Any) -> Any:
    """A plain dict given for a dataclass (``flyte.run(task, cfg={"n": 1})``), built into one.

    As the SDK does: nested dicts become nested dataclasses, omitted fields take their defaults, and the
    class's own ``__init__`` / ``__post_init__`` run. The CLI's JSON reader is the one place that knows
    how JSON-like values map onto declared types, so both paths agree.
    """
    from roost.types.cli_values import value_from_json  # imported here: most runs never need it

    try:
        return value_from_json(value, python_type)
    except (ValueError, TypeError) as e:
        raise TypeTransformerFailedError(str(e)) from e


class DataclassTransformer(TypeTransformer[Any]):
    literal_kinds = ("record",)

    def __init__(self) -> None:
        super().__init__("dataclass", object)

    def handles(self, python_type: Any) -> bool:
        cls = typing.get_origin(python_type) or python_type
        return isinstance(cls, type) and dataclasses.is_dataclass(cls)

    def _fields(self, tp: Any) -> tuple[type, list[tuple[str, Any, bool]]]:
        try:
            return _FIELDS[tp]
        except KeyError:
            pass
        try:
            cls, fields = dataclass_fields(tp)
            entry = (cls, [(f.name, hint, f.init) for f, hint in fields])
        except (NameError, TypeError) as e:
            # Annotations that cannot be resolved (a class defined inside a function, a typo): the
            # fields are pickled instead of failing the run.
            cls = typing.get_origin(tp) or tp
            logger.warning("cannot resolve the field types of %s (%s): its fields will be pickled", type_name(tp), e)
            entry = (cls, [(f.name, Any, f.init) for f in dataclasses.fields(cls)])
        _FIELDS[tp] = entry
        return entry

    def get_literal_type(self, t: Any) -> LiteralType:
        cls, fields = self._fields(t)
        return _record_literal_type(t, cls, fields)

    def to_literal(self, python_val: Any, python_type: Any, expected: LiteralType | None = None) -> Literal:
        cls, fields = self._fields(python_type)
        if isinstance(python_val, dict):
            python_val = _dataclass_from_dict(python_val, python_type)
        if not isinstance(python_val, cls):
            raise TypeTransformerFailedError(f"expected {type_name(cls)}, got {type_name(type(python_val))}")
        return Literal("record", _convert_fields(python_val, fields, getattr), qualified_name(cls))

    def to_python_value(self, lv: Literal, expected_python_type: Any) -> Any:
        expect_kind(lv, "record")
        cls, fields = self._fields(expected_python_type)
        init_args, later = {}, {}
        for name, hint, in_init in fields:
            if name in lv.value:
                value = TypeEngine.to_python_value(lv.value[name], hint)
                (init_args if in_init else later)[name] = value
        obj = cls(**init_args)
        for name, value in later.items():
            object.__setattr__(obj, name, value)  # works for frozen dataclasses too
        return obj

    def guess_python_type(self, literal_type: LiteralType) -> Any:
        found = import_qualified(literal_type.name) if literal_type.name else None
        if isinstance(found, type):
            return found
        class_name = literal_type.name.rpartition(".")[2].rpartition(":")[2] or "GuessedRecord"
        specs = [(n, TypeEngine.guess_python_type(a)) for n, a in zip(literal_type.names, literal_type.args)]
        return dataclasses.make_dataclass(class_name, specs)


class PydanticTransformer(TypeTransformer[Any]):
    """pydantic BaseModel subclasses; values are rebuilt with ``model_construct`` from typed fields.

    Validation ran when the original model was built; rebuilding without it keeps the round trip exact
    even for validators that are not idempotent. Extra fields (``extra="allow"``) travel pickled.
    """

    literal_kinds = ("record",)

    def __init__(self) -> None:
        super().__init__("pydantic", object)

    def handles(self, python_type: Any) -> bool:
        return is_pydantic_model(python_type)

    def _fields(self, tp: Any) -> list[tuple[str, Any, bool]]:
        try:
            return _FIELDS[tp][1]
        except KeyError:
            pass
        fields = [
            (name, info.annotation if info.annotation is not None else Any, True)
            for name, info in tp.model_fields.items()
        ]
        _FIELDS[tp] = (tp, fields)
        return fields

    def get_literal_type(self, t: Any) -> LiteralType:
        return _record_literal_type(t, t, self._fields(t))

    def to_literal(self, python_val: Any, python_type: Any, expected: LiteralType | None = None) -> Literal:
        if isinstance(python_val, dict):
            # A plain dict (JSON from a caller, nested dicts for nested models) is validated into the
            # model, as pydantic would; its own error names the fields at fault.
            try:
                python_val = python_type.model_validate(python_val, strict=False)
            except Exception as e:
                message = " ".join(str(e).split())
                raise TypeTransformerFailedError(f"cannot make a {type_name(python_type)} of it: {message}") from e
        if not isinstance(python_val, python_type):
            raise TypeTransformerFailedError(f"expected {type_name(python_type)}, got {type_name(type(python_val))}")
        fields = _convert_fields(python_val, self._fields(python_type), getattr)
        for name, value in (getattr(python_val, "__pydantic_extra__", None) or {}).items():
            fields[name] = TypeEngine.to_literal(value, Any)
        return Literal("record", fields, qualified_name(python_type))

    def to_python_value(self, lv: Literal, expected_python_type: Any) -> Any:
        expect_kind(lv, "record")
        hints = {name: hint for name, hint, _ in self._fields(expected_python_type)}
        values = {name: TypeEngine.to_python_value(v, hints.get(name, Any)) for name, v in lv.value.items()}
        return expected_python_type.model_construct(**values)
