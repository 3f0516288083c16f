"""RetryStrategy and Backoff (SPEC §9, §26.3, the seed form of §27, checklist §29.13)."""

from __future__ import annotations

import dataclasses
import math
from datetime import timedelta

import pytest

import roost as flyte
from roost.spec.retries import Backoff, RetryStrategy, normalize_retries

S = timedelta(seconds=1)

# --- RetryStrategy -------------------------------------------------------------------------------


def test_exported_at_top_level() -> None:
    assert flyte.RetryStrategy is RetryStrategy
    assert flyte.Backoff is Backoff


def test_count_and_default_backoff() -> None:
    r = RetryStrategy(3)
    assert r.count == 3
    assert r.backoff is None


def test_zero_count_disables() -> None:
    assert RetryStrategy(0).count == 0


def test_backoff_object_kept() -> None:
    b = Backoff(base=2 * S, factor=2.0, cap=10 * S)
    assert RetryStrategy(count=2, backoff=b).backoff is b


@pytest.mark.parametrize("count", [1.0, "3", None, [3]])
def test_count_must_be_int(count: object) -> None:
    with pytest.raises(ValueError, match="count must be an int"):
        RetryStrategy(count)  # type: ignore[arg-type]


@pytest.mark.parametrize("count", [-1, -10])
def test_count_nonnegative(count: int) -> None:
    with pytest.raises(ValueError, match="count must be >= 0"):
        RetryStrategy(count)


def test_equality_and_hash() -> None:
    b = Backoff(base=S)
    assert RetryStrategy(2, b) == RetryStrategy(2, Backoff(base=S))
    assert hash(RetryStrategy(2, b)) == hash(RetryStrategy(2, Backoff(base=S)))
    assert RetryStrategy(2) != RetryStrategy(3)


def test_normalize_retries() -> None:
    r = RetryStrategy(4)
    assert normalize_retries(r) is r
    assert normalize_retries(3) == RetryStrategy(3)
    assert normalize_retries(0) == RetryStrategy(0)
    for bad in (1.5, "3", None, True):
        with pytest.raises(ValueError, match="retries"):
            normalize_retries(bad)


def test_default_delays_are_half_second_doubling_uncapped() -> None:
    # SPEC §26.3: without a Backoff, retry k waits 0.5 s x 2^(k-1): 0.5, 1, 2, 4 s ...
    r = RetryStrategy(10)
    assert [r.delay_before_retry(k) for k in range(1, 5)] == [0.5, 1.0, 2.0, 4.0]
    assert r.delay_before_retry(10) == 0.5 * 2**9  # uncapped


def test_delays_with_backoff_use_compute_delay() -> None:
    # SPEC §26.3 verified example: Backoff(0.2 s, 2.0, cap 1 s) -> 0.2/0.4 s.
    r = RetryStrategy(5, Backoff(base=timedelta(seconds=0.2), factor=2.0, cap=S))
    assert [r.delay_before_retry(k) for k in range(1, 6)] == [0.2, 0.4, 0.8, 1.0, 1.0]


# --- the seed form: RetryStrategy(count, backoff=<max wait>, backoff_factor=<float>) -------------


def test_seed_004_form() -> None:
    r = RetryStrategy(count=3, backoff=timedelta(seconds=10), backoff_factor=2)
    assert r.count == 3
    assert r.backoff == Backoff(base=timedelta(seconds=0.5), factor=2, cap=timedelta(seconds=10))
    assert [r.delay_before_retry(k) for k in range(1, 8)] == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_seed_form_int_seconds_and_default_factor() -> None:
    r = RetryStrategy(2, backoff=10)
    assert r.backoff == Backoff(base=timedelta(seconds=0.5), factor=2.0, cap=timedelta(seconds=10))


def test_seed_form_small_cap_lowers_the_base() -> None:
    r = RetryStrategy(2, backoff=timedelta(seconds=0.25), backoff_factor=3)
    assert r.backoff == Backoff(base=timedelta(seconds=0.25), factor=3, cap=timedelta(seconds=0.25))
    assert r.delay_before_retry(1) == r.delay_before_retry(4) == 0.25


def test_seed_form_factor_one_is_constant_delay() -> None:
    r = RetryStrategy(3, backoff=5, backoff_factor=1)
    assert [r.delay_before_retry(k) for k in (1, 2, 3)] == [0.5, 0.5, 0.5]


def test_seed_form_bad_values() -> None:
    with pytest.raises(ValueError, match="backoff_factor"):
        RetryStrategy(2, backoff_factor=2.0)
    with pytest.raises(ValueError, match="backoff"):
        RetryStrategy(2, backoff="10s")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"factor must be >= 1\.0"):
        RetryStrategy(2, backoff=10, backoff_factor=0.5)
    with pytest.raises(ValueError, match="base must be >= 0"):
        RetryStrategy(2, backoff=-1)


# --- Backoff -------------------------------------------------------------------------------------


def test_backoff_defaults_and_frozen() -> None:
    b = Backoff(base=S)
    assert (b.factor, b.cap) == (1.0, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        b.factor = 2.0  # type: ignore[misc]
    assert hash(b) == hash(Backoff(base=S))
    assert {b, Backoff(base=S)} == {b}


def test_backoff_zero_base_allowed() -> None:
    assert Backoff(base=timedelta(0)).compute_delay(3) == timedelta(0)


def test_backoff_negative_base() -> None:
    with pytest.raises(ValueError, match="base must be >= 0"):
        Backoff(base=-S)


def test_backoff_int_base_is_type_error() -> None:
    # SPEC §9: an int base is not converted and fails on comparison with TypeError.
    with pytest.raises(TypeError):
        Backoff(base=5)  # type: ignore[arg-type]


@pytest.mark.parametrize("factor", [math.nan, math.inf, -math.inf, "2", None])
def test_backoff_factor_must_be_finite_number(factor: object) -> None:
    with pytest.raises(ValueError, match="factor"):
        Backoff(base=S, factor=factor, cap=S)  # type: ignore[arg-type]


@pytest.mark.parametrize("factor", [0.99, 0.0, -2.0])
def test_backoff_factor_at_least_one(factor: float) -> None:
    with pytest.raises(ValueError, match=r"factor must be >= 1\.0"):
        Backoff(base=S, factor=factor, cap=S)


def test_backoff_negative_cap() -> None:
    with pytest.raises(ValueError, match="cap must be >= 0"):
        Backoff(base=S, cap=-S)


def test_backoff_cap_required_when_growing() -> None:
    with pytest.raises(ValueError, match="cap is required when factor > 1"):
        Backoff(base=S, factor=1.5)


def test_backoff_no_cap_needed_for_constant_delay() -> None:
    b = Backoff(base=3 * S)
    assert [b.compute_delay(n) for n in (0, 1, 50)] == [3 * S] * 3


def test_compute_delay_spec_example() -> None:
    b = Backoff(base=timedelta(seconds=10), factor=2, cap=timedelta(minutes=5))
    assert [b.compute_delay(n).total_seconds() for n in range(7)] == [10, 20, 40, 80, 160, 300, 300]


def test_compute_delay_float_factor() -> None:
    b = Backoff(base=timedelta(seconds=1), factor=1.5, cap=timedelta(seconds=3))
    assert [b.compute_delay(n).total_seconds() for n in range(5)] == [1.0, 1.5, 2.25, 3.0, 3.0]


def test_compute_delay_negative_index() -> None:
    with pytest.raises(ValueError, match="retry index"):
        Backoff(base=S).compute_delay(-1)


@pytest.mark.parametrize("factor", [2, 2.0, 3, 1.01])
@pytest.mark.parametrize("n", [1100, 10**6, 10**9])
# Not a timing test: the timeout only stops a hang, since 3 ** 10**9 as an exact integer takes minutes.
@pytest.mark.timeout(30)
def test_compute_delay_huge_index_returns_cap(factor: float, n: int) -> None:
    b = Backoff(base=timedelta(seconds=10), factor=factor, cap=timedelta(minutes=5))
    assert b.compute_delay(n) == timedelta(minutes=5)


def test_compute_delay_zero_base_stays_zero_for_huge_index() -> None:
    b = Backoff(base=timedelta(0), factor=2, cap=timedelta(minutes=5))
    assert b.compute_delay(10**6) == timedelta(0)
