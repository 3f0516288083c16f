"""Helpers shared by the type-engine tests."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from roost.types.engine import TypeEngine
from roost.types.literals import pack_literals, unpack_literals


def roundtrip(value: Any, tp: Any) -> Any:
    """Value -> literal -> bytes -> literal -> value, as across a process boundary."""
    lit = TypeEngine.to_literal(value, tp)
    data = pack_literals({"v": lit})
    return TypeEngine.to_python_value(unpack_literals(data)["v"], tp)


def same(a: Any, b: Any) -> bool:
    """Equality where NaN equals NaN and the types must match (1 is not 1.0, True is not 1)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, Decimal):  # NaN and sNaN compare unequal (or raise): compare the exact text
        return str(a) == str(b)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return a == b
