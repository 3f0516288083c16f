"""Kubernetes quantity strings ("500m", "1.5Gi", "2G", "1e3") parsed into exact numbers, and back.

The grammar is Kubernetes' own: an optional sign, a decimal number (``"1"``, ``"1.5"``, ``".5"``,
``"1."``), then at most one of a decimal exponent (``e3``/``E-2``), a decimal SI suffix
(``n u m k M G T P E``) or a binary SI suffix (``Ki Mi Gi Ti Pi Ei``). roost also accepts the
``KiB MiB GiB TiB PiB EiB`` spellings, because Flyte 2's design documents write ``disk="10GiB"``.

Numbers are exact (``Fraction``), never floats, so ``"0.1"`` is one tenth and ``"1000m" == "1"``.
Like Kubernetes, cpu rounds up to whole millicores and byte sizes round up to whole bytes.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from functools import lru_cache

__all__ = ["format_bytes", "format_cpu", "parse_bytes", "parse_cpu", "parse_quantity"]

_SUFFIX_MULTIPLIERS: dict[str, Fraction] = {
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 10**3),
    "": Fraction(1),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
}
for _power, _letter in enumerate("KMGTPE", start=1):
    _SUFFIX_MULTIPLIERS[_letter + "i"] = Fraction(2 ** (10 * _power))
    _SUFFIX_MULTIPLIERS[_letter + "iB"] = Fraction(2 ** (10 * _power))

# [0-9] rather than \d: \d also matches non-ASCII digits, which Kubernetes rejects.
# The exponent alternative comes first so "1E3" is 1000 while "1E" alone is one exa.
_QUANTITY = re.compile(
    r"(?P<sign>[+-]?)(?P<int>[0-9]*)(?:\.(?P<frac>[0-9]*))?"
    r"(?:[eE](?P<exp>[+-]?[0-9]+)|(?P<suffix>[KMGTPE]iB?|[numkMGTPE]))?"
)

# Guards against "1e999999999" (a number too large to build) and against int() refusing very
# long digit strings; no real resource quantity comes near either bound. 400 still covers the
# repr() of every float (5e-324 .. 1.8e308), so a float and its text mean the same cpu.
_MAX_EXPONENT = 400
_MAX_LENGTH = 64

_CPU_EXAMPLES = "(examples: '500m', '2', '0.5')"
_BYTES_EXAMPLES = "(examples: '512Mi', '1Gi', '2G')"

# Largest first, so format_bytes picks the shortest exact spelling.
_BYTE_UNITS: list[tuple[int, str]] = sorted(
    [(int(mult), suffix) for suffix, mult in _SUFFIX_MULTIPLIERS.items() if mult > 1 and "B" not in suffix],
    reverse=True,
)


def _not_a_quantity(text: object, field: str) -> ValueError:
    examples = _CPU_EXAMPLES if field.startswith("cpu") else _BYTES_EXAMPLES
    return ValueError(f"{field}: {text!r} is not a Kubernetes quantity {examples}")


@lru_cache(maxsize=1024)
def parse_quantity(text: str, field: str) -> Fraction:
    """The exact value of a Kubernetes quantity string; ValueError naming ``field`` if it is not one."""
    if not isinstance(text, str) or len(text) > _MAX_LENGTH:
        raise _not_a_quantity(text, field)
    match = _QUANTITY.fullmatch(text)
    if match is None:
        raise _not_a_quantity(text, field)
    whole, frac = match["int"], match["frac"] or ""
    if not whole and not frac:  # "", ".", "Gi", "-" have no digits at all
        raise _not_a_quantity(text, field)
    value = Fraction(int(whole + frac or "0"), 10 ** len(frac))
    if match["exp"] is not None:
        exponent = int(match["exp"])
        if abs(exponent) > _MAX_EXPONENT:
            raise ValueError(f"{field}: {text!r} has an exponent out of range (at most e{_MAX_EXPONENT})")
        value *= Fraction(10) ** exponent
    elif match["suffix"]:
        value *= _SUFFIX_MULTIPLIERS[match["suffix"]]
    return -value if match["sign"] == "-" else value


def _ceil(value: Fraction) -> int:
    return -((-value.numerator) // value.denominator)


def parse_cpu(value: int | float | str, field: str = "cpu") -> int:
    """Millicores for a cpu value: numbers are cores, strings are quantities (``"500m"`` -> 500)."""
    if isinstance(value, bool):
        raise ValueError(f"{field}: {value!r} is not a core count or quantity string")
    if isinstance(value, int):
        cores = Fraction(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{field}: {value!r} is not a finite core count")
        # repr() gives the shortest decimal that round-trips, so 0.1 means one tenth, not the
        # binary float just above it (which would round up to 101m).
        cores = Fraction(repr(value))
    elif isinstance(value, str):
        cores = parse_quantity(value, field)
    else:
        raise ValueError(f"{field}: {value!r} is not a core count or quantity string {_CPU_EXAMPLES}")
    if cores < 0:
        raise ValueError(f"{field}: {value!r} is negative; cpu must be >= 0")
    return _ceil(cores * 1000)


def parse_bytes(value: str, field: str) -> int:
    """Whole bytes for a memory/disk/shm quantity string (``"1Gi"`` -> 1073741824)."""
    if not isinstance(value, str):
        raise ValueError(
            f"{field}: {value!r} ({type(value).__name__}) must be a Kubernetes quantity string {_BYTES_EXAMPLES}"
        )
    amount = parse_quantity(value, field)
    if amount < 0:
        raise ValueError(f"{field}: {value!r} is negative; {field} must be >= 0")
    return _ceil(amount)


def format_cpu(millicores: int) -> str:
    """Canonical cpu quantity: whole cores as ``"2"``, anything else in millicores (``"1500m"``)."""
    if millicores < 0:
        raise ValueError(f"cpu: {millicores!r} millicores is negative")
    whole, rest = divmod(millicores, 1000)
    return str(whole) if rest == 0 else f"{millicores}m"


def format_bytes(n: int) -> str:
    """Canonical byte quantity: the largest binary or decimal suffix dividing ``n`` exactly, else bytes."""
    if n < 0:
        raise ValueError(f"bytes: {n!r} is negative")
    if n == 0:
        return "0"
    for multiplier, suffix in _BYTE_UNITS:
        if n % multiplier == 0:
            return f"{n // multiplier}{suffix}"
    return str(n)
