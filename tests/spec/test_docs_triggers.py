"""Documentation, Link and triggers (SPEC §14, seed form of §27)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

import roost as flyte
from roost.spec.docs import Documentation, Link
from roost.spec.triggers import Cron, FixedRate, OnArtifact, Trigger, TriggerTime

# --- Documentation ----------------------------------------------------------------------------------


def test_exported_at_top_level() -> None:
    assert flyte.Documentation is Documentation
    assert flyte.Link is Link
    assert (flyte.Trigger, flyte.Cron, flyte.FixedRate, flyte.OnArtifact, flyte.TriggerTime) == (
        Trigger,
        Cron,
        FixedRate,
        OnArtifact,
        TriggerTime,
    )


def test_description() -> None:
    d = Documentation(description="Trains the model.")
    assert d.description == "Trains the model."
    assert Documentation("positional").description == "positional"


def test_seed_000_text_form() -> None:
    d = Documentation(text="Trains the model.")
    assert d.description == "Trains the model."
    assert d.text == "Trains the model."
    assert d == Documentation(description="Trains the model.")


def test_both_description_and_text_refused() -> None:
    with pytest.raises(TypeError, match="description or text"):
        Documentation(description="a", text="b")


@pytest.mark.parametrize("value", [3, ["a"], b"bytes"])
def test_description_must_be_str(value: object) -> None:
    with pytest.raises(TypeError, match="description"):
        Documentation(value)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="description"):
        Documentation(text=value)  # type: ignore[arg-type]


def test_equality_hash_repr() -> None:
    assert Documentation("a") == Documentation("a")
    assert Documentation("a") != Documentation("b")
    assert hash(Documentation("a")) == hash(Documentation(text="a"))
    assert repr(Documentation("a")) == "Documentation(description='a')"


# --- Link -----------------------------------------------------------------------------------------


class Dashboard:
    name = "Grafana"
    icon_uri = "https://example.com/grafana.png"

    def get_link(
        self,
        run_name: str,
        project: str,
        domain: str,
        context: dict[str, str],
        parent_action_name: str,
        action_name: str,
        pod_name: str,
        **kwargs: Any,
    ) -> str:
        return f"https://grafana.example.com/{run_name}/{action_name}?pod={pod_name}"


def test_link_protocol_is_runtime_checkable() -> None:
    link = Dashboard()
    assert isinstance(link, Link)
    assert not isinstance(object(), Link)
    assert link.get_link("r1", "p", "d", {}, "a0", "a1", "localhost") == (
        "https://grafana.example.com/r1/a1?pod=localhost"
    )


# --- triggers -------------------------------------------------------------------------------------


def test_cron() -> None:
    assert Cron("0 * * * *").expression == "0 * * * *"
    assert Cron("0 0 * * * *", timezone="UTC").timezone == "UTC"
    for bad in ("* * *", "", "a b c d e f g"):
        with pytest.raises(ValueError, match="Cron expression"):
            Cron(bad)


def test_fixed_rate() -> None:
    start = datetime(2025, 1, 1)
    assert FixedRate(15, start_time=start).interval_minutes == 15
    with pytest.raises(ValueError, match="interval_minutes"):
        FixedRate(0)
    with pytest.raises(TypeError, match="interval_minutes"):
        FixedRate(1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="interval_minutes"):
        FixedRate(True)  # type: ignore[arg-type]


def test_trigger() -> None:
    t = Trigger("hourly", Cron("0 * * * *"), inputs={"when": TriggerTime()})
    assert t.name == "hourly"
    assert t.automation == Cron("0 * * * *")
    assert t.auto_activate is True
    assert Trigger("on-data", OnArtifact("dataset")).automation.artifact_name == "dataset"
    with pytest.raises(TypeError, match="automation"):
        Trigger("bad", "0 * * * *")  # type: ignore[arg-type]


def test_trigger_time_repr() -> None:
    assert repr(TriggerTime()) == "TriggerTime"
