"""ReusePolicy (SPEC §7, checklist §29.4): defaults, normalisation and every validation rule."""

from __future__ import annotations

import dataclasses
import warnings
from datetime import timedelta

import pytest

import roost as flyte
from roost.spec.reuse import ReusePolicy


def make(**kwargs: object) -> ReusePolicy:
    """A policy built with warnings silenced (the 1x1 starvation warning is tested on its own)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ReusePolicy(**kwargs)  # type: ignore[arg-type]


# --- defaults and normalisation ---------------------------------------------------------------


def test_exported_at_top_level() -> None:
    assert flyte.ReusePolicy is ReusePolicy


def test_defaults() -> None:
    p = ReusePolicy()
    assert p.replicas == (2, 2)
    assert p.idle_ttl == timedelta(seconds=30)
    assert p.concurrency == 1
    assert p.scaledown_ttl == timedelta(seconds=30)
    assert p.scope == "global"
    assert (p.min_replicas, p.max_replicas) == (2, 2)
    assert p.get_scaledown_ttl() == timedelta(seconds=30)


def test_positional_order_matches_spec() -> None:
    p = ReusePolicy((1, 3), 60, 4, 45, "run")
    assert p.replicas == (1, 3)
    assert p.idle_ttl == timedelta(seconds=60)
    assert p.concurrency == 4
    assert p.scaledown_ttl == timedelta(seconds=45)
    assert p.scope == "run"


@pytest.mark.parametrize("n", [0, 2, 5])
def test_int_replicas_become_a_pair(n: int) -> None:
    p = ReusePolicy(replicas=n)
    assert p.replicas == (n, n)
    assert p.min_replicas == p.max_replicas == n


def test_zero_replicas_allowed() -> None:
    assert ReusePolicy(replicas=0).replicas == (0, 0)
    assert ReusePolicy(replicas=(0, 3)).replicas == (0, 3)


def test_int_ttls_become_timedeltas() -> None:
    p = ReusePolicy(idle_ttl=300, scaledown_ttl=120)
    assert p.idle_ttl == timedelta(minutes=5)
    assert p.scaledown_ttl == timedelta(minutes=2)
    assert isinstance(p.idle_ttl, timedelta)
    assert isinstance(p.scaledown_ttl, timedelta)


def test_timedelta_ttls_kept() -> None:
    p = ReusePolicy(idle_ttl=timedelta(minutes=5), scaledown_ttl=timedelta(seconds=30))
    assert p.idle_ttl == timedelta(minutes=5)
    assert p.scaledown_ttl == timedelta(seconds=30)


def test_seed_002_examples() -> None:
    high = ReusePolicy(
        replicas=(2, 5), idle_ttl=timedelta(minutes=5), concurrency=10, scaledown_ttl=timedelta(minutes=2)
    )
    assert (high.min_replicas, high.max_replicas) == (2, 5)
    assert high.capacity == 50
    with pytest.warns(UserWarning):
        cost = ReusePolicy(replicas=1, idle_ttl=timedelta(seconds=60), concurrency=1)
    assert cost.replicas == (1, 1)


def test_equality_by_fields_after_normalisation() -> None:
    assert ReusePolicy(replicas=3, idle_ttl=60) == ReusePolicy(replicas=(3, 3), idle_ttl=timedelta(seconds=60))
    assert ReusePolicy(replicas=3) != ReusePolicy(replicas=(2, 3))


def test_mutable_dataclass() -> None:
    p = ReusePolicy()
    assert dataclasses.is_dataclass(p)
    p.concurrency = 3  # mutable, as in the SDK
    assert p.concurrency == 3


def test_capacity_is_max_replicas_times_concurrency() -> None:
    assert ReusePolicy(replicas=(1, 4), concurrency=3).capacity == 12


def test_true_passes_as_an_int_replica_count() -> None:
    # SPEC §7: "note True passes as an int" for replicas min/max.
    p = make(replicas=(True, 2))
    assert p.replicas == (True, 2)


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize("scope", ["local", "GLOBAL", None, 1])
def test_scope_must_be_global_or_run(scope: object) -> None:
    with pytest.raises(ValueError, match="scope"):
        ReusePolicy(scope=scope)  # type: ignore[arg-type]


def test_replicas_none_rejected() -> None:
    with pytest.raises(ValueError, match="replicas cannot be None"):
        ReusePolicy(replicas=None)  # type: ignore[arg-type]


@pytest.mark.parametrize("replicas", [[1, 2], (1,), (1, 2, 3), "2", 2.0, {1, 2}])
def test_replicas_must_be_int_or_pair(replicas: object) -> None:
    with pytest.raises(ValueError, match="replicas must be an int or a tuple of two ints"):
        ReusePolicy(replicas=replicas)  # type: ignore[arg-type]


@pytest.mark.parametrize(("replicas", "which"), [((1.0, 2), "min"), ((1, "2"), "max"), ((None, 2), "min")])
def test_replicas_min_max_must_be_ints(replicas: tuple[object, object], which: str) -> None:
    with pytest.raises(ValueError, match=f"replicas {which} must be an int"):
        ReusePolicy(replicas=replicas)  # type: ignore[arg-type]


@pytest.mark.parametrize(("replicas", "which"), [(-1, "min"), ((-1, 2), "min"), ((0, -1), "max")])
def test_replicas_must_be_nonnegative(replicas: object, which: str) -> None:
    with pytest.raises(ValueError, match=f"replicas {which} must be >= 0"):
        ReusePolicy(replicas=replicas)  # type: ignore[arg-type]


def test_replicas_min_not_above_max() -> None:
    with pytest.raises(ValueError, match="replicas min must be <= max"):
        ReusePolicy(replicas=(3, 1))


@pytest.mark.parametrize("concurrency", [1.0, "2", None])
def test_concurrency_must_be_int(concurrency: object) -> None:
    with pytest.raises(ValueError, match="concurrency must be an int"):
        ReusePolicy(concurrency=concurrency)  # type: ignore[arg-type]


@pytest.mark.parametrize("concurrency", [0, -1])
def test_concurrency_at_least_one(concurrency: int) -> None:
    with pytest.raises(ValueError, match="concurrency must be at least 1"):
        ReusePolicy(concurrency=concurrency)


@pytest.mark.parametrize("field", ["idle_ttl", "scaledown_ttl"])
@pytest.mark.parametrize("value", [30.0, 60.5, None, "60"])
def test_ttl_must_be_int_or_timedelta(field: str, value: object) -> None:
    # A float and None are rejected (SPEC §7, §29.4).
    with pytest.raises(ValueError, match=field):
        ReusePolicy(**{field: value})  # type: ignore[arg-type]


@pytest.mark.parametrize("field", ["idle_ttl", "scaledown_ttl"])
@pytest.mark.parametrize("value", [29, 0, -5, timedelta(seconds=29, microseconds=999_999)])
def test_ttl_at_least_30_seconds(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=f"{field} must be at least 30 seconds"):
        ReusePolicy(**{field: value})  # type: ignore[arg-type]


@pytest.mark.parametrize("field", ["idle_ttl", "scaledown_ttl"])
def test_ttl_exactly_30_seconds_allowed(field: str) -> None:
    assert getattr(ReusePolicy(**{field: 30}), field) == timedelta(seconds=30)  # type: ignore[arg-type]
    assert getattr(ReusePolicy(**{field: timedelta(seconds=30)}), field) == timedelta(seconds=30)  # type: ignore[arg-type]


def test_validation_order_scope_first() -> None:
    with pytest.raises(ValueError, match="scope"):
        ReusePolicy(replicas=None, scope="nope")  # type: ignore[arg-type]


def test_validation_order_replicas_before_concurrency_before_ttls() -> None:
    with pytest.raises(ValueError, match="replicas"):
        ReusePolicy(replicas=(3, 1), concurrency=0, idle_ttl=1)
    with pytest.raises(ValueError, match="concurrency"):
        ReusePolicy(concurrency=0, idle_ttl=1)
    with pytest.raises(ValueError, match="idle_ttl"):
        ReusePolicy(idle_ttl=1, scaledown_ttl=1)


# --- the 1x1 starvation warning ------------------------------------------------------------------


@pytest.mark.parametrize("replicas", [1, (0, 1), (1, 1)])
def test_one_replica_one_slot_only_warns(replicas: object) -> None:
    with pytest.warns(UserWarning, match="replica"):
        p = ReusePolicy(replicas=replicas, concurrency=1)  # type: ignore[arg-type]
    assert p.max_replicas == 1


@pytest.mark.parametrize(("replicas", "concurrency"), [(2, 1), (1, 2), ((1, 2), 1), (0, 1)])
def test_no_warning_otherwise(replicas: object, concurrency: int) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ReusePolicy(replicas=replicas, concurrency=concurrency)  # type: ignore[arg-type]


def test_warning_points_at_the_caller() -> None:
    with pytest.warns(UserWarning) as record:
        ReusePolicy(replicas=1)
    assert record[0].filename == __file__
