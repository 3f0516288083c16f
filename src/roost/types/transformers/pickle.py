"""The fallback: values of types roost has no transformer for travel as cloudpickle bytes.

cloudpickle is imported on first use. Pickled values are exact but tied to the Python version and the
code that made them, so the engine warns once per type that falls back here.
"""

from __future__ import annotations

from typing import Any

from roost.types._typing import type_name
from roost.types.engine import TypeTransformer, TypeTransformerFailedError, expect_kind
from roost.types.literals import Literal, LiteralType


class PickleTransformer(TypeTransformer[Any]):
    def __init__(self) -> None:
        super().__init__("pickle", object)

    def get_literal_type(self, t: Any) -> LiteralType:
        return LiteralType("pickle", name=type_name(t))

    def to_literal(self, python_val: Any, python_type: Any, expected: LiteralType | None = None) -> Literal:
        import cloudpickle

        try:
            data = cloudpickle.dumps(python_val)
        except Exception as e:
            raise TypeTransformerFailedError(f"cannot pickle a {type_name(type(python_val))}: {e}") from e
        return Literal("pickle", data, type_name(type(python_val)))

    def to_python_value(self, lv: Literal, expected_python_type: Any) -> Any:
        expect_kind(lv, "pickle")
        import cloudpickle

        return cloudpickle.loads(lv.value)

    def guess_python_type(self, literal_type: LiteralType) -> Any:
        return Any


_PICKLER = PickleTransformer()


def pickler() -> PickleTransformer:
    return _PICKLER
