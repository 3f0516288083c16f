"""Enum subclasses (by member name) and ``typing.Literal`` choices."""

from __future__ import annotations

import enum
import typing
from typing import Any

from roost.types._typing import import_qualified, qualified_name, type_name
from roost.types.engine import TypeTransformer, TypeTransformerFailedError, expect_kind
from roost.types.literals import Literal, LiteralType


class EnumTransformer(TypeTransformer[enum.Enum]):
    """Members travel by name, as in Flyte, so values may be of any type and may change between versions."""

    def __init__(self) -> None:
        super().__init__("enum", enum.Enum)

    def handles(self, python_type: Any) -> bool:
        return isinstance(python_type, type) and issubclass(python_type, enum.Enum)

    def get_literal_type(self, t: Any) -> LiteralType:
        return LiteralType("enum", names=tuple(t.__members__), name=qualified_name(t))

    def to_literal(self, python_val: Any, python_type: Any, expected: LiteralType | None = None) -> Literal:
        if not isinstance(python_val, python_type):
            raise TypeTransformerFailedError(
                f"expected a member of {type_name(python_type)}, got {type_name(type(python_val))}"
            )
        return Literal("enum", python_val.name)

    def to_python_value(self, lv: Literal, expected_python_type: Any) -> enum.Enum:
        expect_kind(lv, "enum")
        try:
            return expected_python_type[lv.value]  # type: ignore[no-any-return]
        except KeyError:
            raise TypeTransformerFailedError(
                f"{type_name(expected_python_type)} has no member {lv.value!r} "
                f"(members: {', '.join(expected_python_type.__members__)})"
            ) from None

    def guess_python_type(self, literal_type: LiteralType) -> Any:
        found = import_qualified(literal_type.name) if literal_type.name else None
        if isinstance(found, type) and issubclass(found, enum.Enum):
            return found
        if literal_type.name == "" and literal_type.names:
            return typing.Literal[literal_type.names]  # type: ignore[valid-type]
        class_name = literal_type.name.rpartition(".")[2] or "GuessedEnum"
        return enum.Enum(class_name, {n: n for n in literal_type.names})


def _string_choices(tp: Any) -> bool:
    return typing.get_origin(tp) is typing.Literal and all(isinstance(a, str) for a in typing.get_args(tp))


class LiteralTransformer(TypeTransformer[str]):
    """``Literal["a", "b"]``: an enum whose values are the strings (as Flyte does). Other Literals are pickled.

    Choices may be members of a str enum (``Literal[Shape.CIRCLE]``); they travel as their string value.
    """

    def __init__(self) -> None:
        super().__init__("literal", str)

    def handles(self, python_type: Any) -> bool:
        return _string_choices(python_type)

    def get_literal_type(self, t: Any) -> LiteralType:
        return LiteralType("enum", names=tuple(str.__str__(a) for a in typing.get_args(t)))

    def to_literal(self, python_val: Any, python_type: Any, expected: LiteralType | None = None) -> Literal:
        choices = typing.get_args(python_type)
        if not isinstance(python_val, str) or python_val not in choices:
            raise TypeTransformerFailedError(f"expected one of {', '.join(map(repr, choices))}, got {python_val!r}")
        return Literal("enum", str.__str__(python_val))

    def to_python_value(self, lv: Literal, expected_python_type: Any) -> str:
        expect_kind(lv, "enum")
        # The declared choice itself comes back, not an equal str: in ``Literal[Shape.CIRCLE]`` (a str
        # enum member, as pydantic discriminated unions use) that is the member.
        for choice in typing.get_args(expected_python_type):
            if choice == lv.value:
                return choice  # type: ignore[no-any-return]
        choices = typing.get_args(expected_python_type)
        raise TypeTransformerFailedError(f"{lv.value!r} is not one of {', '.join(map(repr, choices))}")
