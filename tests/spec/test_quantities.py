"""Kubernetes quantity parsing and formatting (roost.spec.quantities).

The property tests check the parser against an oracle written independently below: a hand-rolled
scanner (no regular expression) that computes the exact value of a quantity string.
"""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from roost.spec.quantities import format_bytes, format_cpu, parse_bytes, parse_cpu, parse_quantity

DIGITS = "0123456789"

MULTIPLIERS: dict[str, Fraction] = {
    "": Fraction(1),
    "n": Fraction(1, 1_000_000_000),
    "u": Fraction(1, 1_000_000),
    "m": Fraction(1, 1000),
    "k": Fraction(1000),
    "M": Fraction(1000**2),
    "G": Fraction(1000**3),
    "T": Fraction(1000**4),
    "P": Fraction(1000**5),
    "E": Fraction(1000**6),
    "Ki": Fraction(1024),
    "Mi": Fraction(1024**2),
    "Gi": Fraction(1024**3),
    "Ti": Fraction(1024**4),
    "Pi": Fraction(1024**5),
    "Ei": Fraction(1024**6),
    "KiB": Fraction(1024),
    "MiB": Fraction(1024**2),
    "GiB": Fraction(1024**3),
    "TiB": Fraction(1024**4),
    "PiB": Fraction(1024**5),
    "EiB": Fraction(1024**6),
}


def oracle(text: str) -> Fraction | None:
    """The exact value of ``text`` as a quantity, or None when it is not one (roost's documented
    guards included: at most 64 characters, exponents within +-400)."""
    if not text or len(text) > 64:
        return None
    sign = 1
    body = text
    if body[0] in "+-":
        sign = -1 if body[0] == "-" else 1
        body = body[1:]
    end = 0
    while end < len(body) and (body[end] in DIGITS or body[end] == "."):
        end += 1
    number, rest = body[:end], body[end:]
    if number.count(".") > 1 or not any(c in DIGITS for c in number):
        return None
    whole, _, frac = number.partition(".")
    value = Fraction(int(whole or "0")) + Fraction(int(frac or "0"), 10 ** len(frac))
    if rest in MULTIPLIERS:
        return sign * value * MULTIPLIERS[rest]
    if rest[0] in "eE":
        exponent = rest[1:]
        digits = exponent[1:] if exponent[:1] in ("+", "-") else exponent
        if digits and all(c in DIGITS for c in digits) and abs(int(exponent)) <= 400:
            return sign * value * Fraction(10) ** int(exponent)
    return None


# ---- generators ------------------------------------------------------------------------------

numbers = st.one_of(
    st.from_regex(r"[0-9]{1,6}", fullmatch=True),
    st.from_regex(r"[0-9]{1,4}\.[0-9]{0,4}", fullmatch=True),
    st.from_regex(r"\.[0-9]{1,4}", fullmatch=True),
)
suffixes = st.one_of(
    st.sampled_from(sorted(MULTIPLIERS)),
    st.integers(-12, 12).map(lambda e: f"e{e}"),
    st.integers(0, 12).map(lambda e: f"E+{e}"),
)


@st.composite
def valid_quantities(draw: st.DrawFn, signs: str = "+") -> str:
    sign = draw(st.sampled_from(["", *signs]))
    return sign + draw(numbers) + draw(suffixes)


NEAR_MISSES = [
    "", " ", "1.2.3", "Gi", "1 Gi", " 1Gi", "1Gi ", "1Gi\n", "1gi", "1GB", "1KB", "1K", "1kB", "1mi",
    "--1", "+-1", "1-", "1e", "1e+", "1E-", "1e3k", "1e1.5", "0x10", "1_000", "1,5", ".", "-", "-.",
    "e3", "Ki1", "1Gii", "1iB", "1GiBB", "\uff11", "\u0663", "1e999", "1" * 70, "inf", "nan", "1/2",
]  # fmt: skip

garbage = st.one_of(
    st.sampled_from(NEAR_MISSES),
    st.text(alphabet=st.sampled_from(list("0123456789.+-eEkKMGTPnumiB x_")), max_size=8),
    st.builds(
        lambda q, junk, at: q[:at] + junk + q[at:],
        valid_quantities(),
        st.sampled_from([" ", ".", "-", "+", "e", "B", "i", "x", "0x"]),
        st.integers(0, 12),
    ),
)


# ---- parse_quantity --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, value",
    [
        ("1", 1), ("1.", 1), (".5", Fraction(1, 2)), ("1.5", Fraction(3, 2)), ("+2", 2), ("-2", -2),
        ("500m", Fraction(1, 2)), ("100n", Fraction(1, 10**7)), ("3u", Fraction(3, 10**6)),
        ("2k", 2000), ("2G", 2 * 10**9), ("1E", 10**18), ("1e3", 1000), ("1E3", 1000),
        ("25e-1", Fraction(5, 2)), ("1Ki", 1024), ("1.5Gi", 3 * 2**29), ("10GiB", 10 * 2**30),
        ("1Ei", 2**60), ("0.1", Fraction(1, 10)), ("007", 7),
    ],
)  # fmt: skip
def test_parse_quantity_examples(text, value):
    assert parse_quantity(text, "memory") == value
    assert isinstance(parse_quantity(text, "memory"), Fraction)


@given(valid_quantities(signs="+-"))
def test_parse_matches_independent_value(text):
    assert parse_quantity(text, "memory") == oracle(text)


@given(valid_quantities(), valid_quantities())
@example("1Gi", "1G")
@example("1000m", "1")
@example("1Ki", "1k")
@example("1M", "1Mi")
@example("0.5", "500m")
@example("1e3", "1k")
def test_ordering_matches_exact_values(a, b):
    pa, pb = parse_quantity(a, "memory"), parse_quantity(b, "memory")
    va, vb = oracle(a), oracle(b)
    assert (pa < pb, pa == pb, pa > pb) == (va < vb, va == vb, va > vb)


def test_ordering_examples():
    assert parse_quantity("1Gi", "memory") > parse_quantity("1G", "memory")
    assert parse_quantity("1000m", "cpu") == parse_quantity("1", "cpu")
    assert parse_cpu("1000m") == parse_cpu(1) == parse_cpu("1")


@given(garbage)
def test_garbage_is_rejected_naming_the_field(text):
    expected = oracle(text)
    if expected is not None:  # the generator hit a valid quantity by chance
        assert parse_quantity(text, "disk") == expected
        return
    with pytest.raises(ValueError, match=r"^disk: ") as info:
        parse_quantity(text, "disk")
    assert repr(text) in str(info.value) or "exponent" in str(info.value)


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_near_misses_are_rejected(text):
    with pytest.raises(ValueError, match="memory"):
        parse_quantity(text, "memory")


def test_error_message_names_field_text_and_examples():
    with pytest.raises(ValueError) as info:
        parse_quantity("12 GB", "memory")
    assert str(info.value) == "memory: '12 GB' is not a Kubernetes quantity (examples: '512Mi', '1Gi', '2G')"
    with pytest.raises(ValueError, match=r"^cpu: 'two' is not a Kubernetes quantity \(examples: '500m'"):
        parse_cpu("two")


# ---- parse_cpu / parse_bytes -----------------------------------------------------------------


@pytest.mark.parametrize(
    "value, millicores",
    [
        (1, 1000), (0, 0), (2.5, 2500), (0.1, 100), (0.001, 1), ("500m", 500), ("2", 2000),
        ("0.5", 500), ("1.5", 1500), ("100m", 100), ("1e-3", 1), ("1k", 1_000_000),
        # Kubernetes rounds sub-millicore precision up
        ("0.0001", 1), ("1n", 1), ("1.0001", 1001), ("1500001u", 1501), (0.0004, 1),
    ],
)  # fmt: skip
def test_parse_cpu(value, millicores):
    assert parse_cpu(value) == millicores


@given(st.integers(0, 10**9))
def test_parse_cpu_of_int_is_cores(n):
    assert parse_cpu(n) == n * 1000


@given(st.floats(0, 1e9, allow_nan=False, allow_infinity=False))
def test_parse_cpu_float_equals_its_decimal_text(x):
    # repr() of a float is itself a valid quantity, and both spellings mean the same cpu
    assert parse_cpu(x) == parse_cpu(repr(x)) == math.ceil(Fraction(repr(x)) * 1000)


@pytest.mark.parametrize("value", [-1, -0.5, "-1", "-500m", "-0.001"])
def test_parse_cpu_rejects_negative(value):
    with pytest.raises(ValueError, match="cpu"):
        parse_cpu(value)


@pytest.mark.parametrize("value", [True, None, [1], float("nan"), float("inf"), b"1"])
def test_parse_cpu_rejects_other_values(value):
    with pytest.raises(ValueError, match="cpu"):
        parse_cpu(value)


def test_parse_cpu_uses_the_given_field_name():
    with pytest.raises(ValueError, match=r"^cpu limit: "):
        parse_cpu("x", "cpu limit")


@pytest.mark.parametrize(
    "text, n",
    [("1Gi", 2**30), ("512Mi", 512 * 2**20), ("2G", 2 * 10**9), ("10GiB", 10 * 2**30), ("0", 0),
     ("1.5Ki", 1536), ("0.5", 1), ("100m", 1), ("1.0000001k", 1001), ("1e3", 1000)],
)  # fmt: skip
def test_parse_bytes(text, n):
    assert parse_bytes(text, "memory") == n


@pytest.mark.parametrize("field", ["memory", "disk", "shm"])
def test_parse_bytes_rejects_negative_and_non_strings(field):
    with pytest.raises(ValueError, match=f"^{field}: '-1Gi' is negative"):
        parse_bytes("-1Gi", field)
    with pytest.raises(ValueError, match=f"^{field}: 1024 \\(int\\) must be a Kubernetes quantity string"):
        parse_bytes(1024, field)  # type: ignore[arg-type]


# ---- formatters ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "millicores, text", [(0, "0"), (2000, "2"), (500, "500m"), (1500, "1500m"), (1, "1m"), (10**6, "1000")]
)
def test_format_cpu(millicores, text):
    assert format_cpu(millicores) == text


@pytest.mark.parametrize(
    "n, text",
    [(0, "0"), (2**30, "1Gi"), (1536, "1536"), (3072, "3Ki"), (2 * 10**9, "2G"), (10**18, "1E"),
     (2**60, "1Ei"), (1000, "1k"), (1024 * 1000, "1000Ki"), (10 * 2**30, "10Gi"), (999, "999")],
)  # fmt: skip
def test_format_bytes(n, text):
    assert format_bytes(n) == text


@pytest.mark.parametrize("formatter", [format_cpu, format_bytes])
def test_formatters_reject_negative(formatter):
    with pytest.raises(ValueError):
        formatter(-1)


@given(st.integers(0, 10**15))
def test_cpu_round_trip(millicores):
    assert parse_cpu(format_cpu(millicores)) == millicores


units = st.sampled_from([1, 1000, 1024, 10**6, 2**20, 10**9, 2**30, 10**12, 2**40, 10**15, 2**50, 2**60])


@given(st.one_of(st.integers(0, 2**70), st.builds(lambda k, unit: k * unit, st.integers(0, 5000), units)))
def test_bytes_round_trip(n):
    text = format_bytes(n)
    assert parse_bytes(text, "memory") == n
    assert text == text.strip() and not text.startswith("+")
    if n:
        # the largest unit that divides exactly: no bigger unit would have done
        suffix = text.lstrip(DIGITS)
        unit = MULTIPLIERS[suffix]
        assert all(n % m != 0 for m in MULTIPLIERS.values() if m > unit)
