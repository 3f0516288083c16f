"""Timeout and its normaliser (SPEC §10)."""

from __future__ import annotations

from datetime import timedelta

import pytest

import roost as flyte
from roost.spec.timeouts import Timeout, normalize_timeout, seconds


def test_exported_at_top_level() -> None:
    assert flyte.Timeout is Timeout


def test_defaults_all_unbounded() -> None:
    t = Timeout()
    assert (t.max_runtime, t.max_queued_time, t.deadline) == (None, None, None)


def test_positional_order() -> None:
    t = Timeout(10, timedelta(minutes=1), 3600)
    assert t.max_runtime == 10
    assert t.max_queued_time == timedelta(minutes=1)
    assert t.deadline == 3600


def test_seed_004_form() -> None:
    t = Timeout(max_runtime=timedelta(minutes=5), max_queued_time=timedelta(minutes=1))
    assert t.max_runtime == timedelta(minutes=5)
    assert t.deadline is None


def test_no_validation_negative_values_accepted() -> None:
    t = Timeout(max_runtime=-5, max_queued_time=timedelta(seconds=-1), deadline=-1)
    assert t.max_runtime == -5


def test_seconds_helper() -> None:
    assert seconds(None) is None
    assert seconds(0) is None
    assert seconds(timedelta(0)) is None
    assert seconds(90) == 90.0
    assert seconds(timedelta(minutes=2)) == 120.0


def test_normalize_keeps_a_timeout() -> None:
    t = Timeout(max_runtime=30)
    assert normalize_timeout(t) is t
    q = Timeout(max_queued_time=timedelta(seconds=5))
    assert normalize_timeout(q) is q
    d = Timeout(deadline=60)
    assert normalize_timeout(d) is d


def test_normalize_int_means_max_runtime() -> None:
    assert normalize_timeout(120) == Timeout(max_runtime=120)


def test_normalize_timedelta_means_max_runtime() -> None:
    assert normalize_timeout(timedelta(minutes=3)) == Timeout(max_runtime=timedelta(minutes=3))


def test_normalize_true_is_an_int() -> None:
    # SPEC §10: "note True is an int".
    t = normalize_timeout(True)
    assert t is not None
    assert t.max_runtime == 1


@pytest.mark.parametrize("value", [None, 0, timedelta(0), Timeout(), Timeout(max_runtime=0, deadline=timedelta(0))])
def test_normalize_unbounded_is_none(value: object) -> None:
    # None or zero means unlimited; 0 is the decorator default.
    assert normalize_timeout(value) is None


@pytest.mark.parametrize("value", [1.5, "60", [60], {"max_runtime": 60}])
def test_normalize_rejects_other_types(value: object) -> None:
    with pytest.raises(ValueError, match="timeout must be a Timeout, an int"):
        normalize_timeout(value)
