"""The fallback: values of types roost has no transformer for travel as cloudpickle bytes.

cloudpickle is imported on first use. Pickled values are exact but tied to the Python version and the
code that made them, so a run warns once per task whose inputs or outputs fall back here. A type
declared ``FlytePickle`` asks for the same transport on purpose: no warning.
"""

from __future__ import annotations

import typing
from typing import Any

from roost.types._typing import type_name
from roost.types.engine import TypeTransformer, TypeTransformerFailedError, expect_kind
from roost.types.literals import Literal, LiteralType
from roost.types.pickled import FlytePickle

#: The name in the literal type of a ``FlytePickle`` declaration: pickled by choice, not by fallback.
CHOSEN = "FlytePickle"


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


class FlytePickleTransformer(PickleTransformer):
    """``FlytePickle`` and ``FlytePickle[T]``: the fallback's transport, chosen explicitly."""

    accepts_subclasses = True
    literal_kinds = ("pickle",)

    def __init__(self) -> None:
        TypeTransformer.__init__(self, "flytepickle", FlytePickle)

    def get_literal_type(self, t: Any) -> LiteralType:
        args = typing.get_args(t)
        return LiteralType("pickle", name=f"{CHOSEN}[{type_name(args[0])}]" if args else CHOSEN)

    def assert_type(self, t: Any, v: Any) -> None:
        pass  # any value can be pickled


_PICKLER = PickleTransformer()


def pickler() -> PickleTransformer:
    return _PICKLER
