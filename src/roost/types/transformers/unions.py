"""Optional[T], Union[A, B], A | B: the member used is recorded, so the value comes back as that type.

Choosing a member for a value: members whose class is exactly the value's class come first (so
``Union[float, int]`` keeps 3 an int and ``Union[int, bool]`` keeps True a bool), then the others in
declared order; the first that converts the value wins.
"""

from __future__ import annotations

import typing
from typing import Any

from roost.types._typing import NoneType, is_union, strip_annotated, type_name
from roost.types.engine import TypeEngine, TypeTransformer, TypeTransformerFailedError
from roost.types.literals import Literal, LiteralType

_TAGS: dict[Any, str] = {}


def member_tag(tp: Any) -> str:
    """The name a member is recorded under: its wire type, which is stable across processes."""
    try:
        return _TAGS[tp]
    except (KeyError, TypeError):
        pass
    tag = str(TypeEngine.to_literal_type(tp))
    try:
        _TAGS[tp] = tag
    except TypeError:  # unhashable Annotated metadata
        pass
    return tag


def _runtime_class(tp: Any) -> Any:
    base, _ = strip_annotated(tp)
    return typing.get_origin(base) or base


class UnionTransformer(TypeTransformer[Any]):
    accepts_none = True

    def __init__(self) -> None:
        super().__init__("union", typing.Union)

    def handles(self, python_type: Any) -> bool:
        return is_union(python_type)

    def get_literal_type(self, t: Any) -> LiteralType:
        return LiteralType("union", tuple(TypeEngine.to_literal_type(m) for m in typing.get_args(t)))

    def _candidates(self, python_val: Any, members: tuple[Any, ...]) -> list[Any]:
        exact = [m for m in members if _runtime_class(m) is type(python_val)]
        return exact + [m for m in members if m not in exact]

    def to_literal(self, python_val: Any, python_type: Any, expected: LiteralType | None = None) -> Literal:
        members = typing.get_args(python_type)
        if python_val is None:
            if NoneType not in members:
                raise TypeTransformerFailedError(f"None is not a valid value of {type_name(python_type)}")
            return Literal("union", Literal("none"), "None")
        reasons = []
        for member in self._candidates(python_val, members):
            if member is NoneType:
                continue
            try:
                lit = TypeEngine.to_literal(python_val, member)
            except TypeError as e:
                reasons.append(f"{type_name(member)}: {e}")
                continue
            return Literal("union", lit, member_tag(member))
        raise TypeTransformerFailedError(
            f"{type_name(type(python_val))} matches no member of {type_name(python_type)} ({'; '.join(reasons)})"
        )

    def to_python_value(self, lv: Literal, expected_python_type: Any) -> Any:
        members = typing.get_args(expected_python_type)
        if lv.kind != "union":
            # A plain literal (written for a non-Optional type before the union was declared): try each.
            return self._try_each(lv, members)
        if lv.value.kind == "none" and NoneType in members:
            return None
        for member in members:
            if member is not NoneType and member_tag(member) == lv.meta:
                return TypeEngine.to_python_value(lv.value, member)
        return self._try_each(lv.value, members)

    def _try_each(self, lv: Literal, members: tuple[Any, ...]) -> Any:
        for member in members:
            try:
                return TypeEngine.to_python_value(lv, member)
            except (TypeError, ValueError, KeyError):
                continue
        raise TypeTransformerFailedError(
            f"a {lv.kind!r} literal matches no member of {' | '.join(map(type_name, members))}"
        )

    def guess_python_type(self, literal_type: LiteralType) -> Any:
        return typing.Union[tuple(TypeEngine.guess_python_type(a) for a in literal_type.args)]
