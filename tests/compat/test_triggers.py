"""Triggers as Flyte declares them: every keyword, the helpers, Cron's UTC default, OnArtifact, and
the input sentinels -- declarations and validation only."""

from __future__ import annotations

from datetime import datetime

import pytest

import roost as flyte


def test_trigger_takes_all_of_flytes_keywords():
    t = flyte.Trigger(
        "nightly",
        flyte.Cron("0 2 * * *", timezone="Europe/London"),
        description="every night",
        auto_activate=False,
        inputs={"when": flyte.TriggerTime, "n": 3},
        env_vars={"MODE": "batch"},
        interruptible=True,
        overwrite_cache=True,
        queue="slow",
        max_action_concurrency=4,
        labels={"team": "data"},
        annotations={"owner": "me"},
        notifications=None,
        custom_context={"source": "cron"},
    )
    assert (t.auto_activate, t.queue, t.max_action_concurrency, t.inputs["n"]) == (False, "slow", 4, 3)
    assert t.automation.timezone_expression == "CRON_TZ=Europe/London 0 2 * * *"
    assert flyte.Trigger("plain", flyte.FixedRate(60)).inputs is None


def test_cron_defaults_to_utc_and_checks_the_timezone():
    assert flyte.Cron("*/5 * * * *").timezone == "UTC"
    assert str(flyte.Cron("0 * * * *")) == "Cron Trigger: CRON_TZ=UTC 0 * * * *"
    with pytest.raises(ValueError, match="timezone"):
        flyte.Cron("0 * * * *", timezone="Mars/Olympus_Mons")


@pytest.mark.parametrize(
    ("helper", "expression"),
    [
        ("minutely", "* * * * *"),
        ("hourly", "0 * * * *"),
        ("daily", "0 0 * * *"),
        ("weekly", "0 0 * * 0"),
        ("monthly", "0 0 1 * *"),
    ],
)
def test_helpers(helper, expression):
    t = getattr(flyte.Trigger, helper)("at", inputs={"x": 1}, queue="q", env_vars={"A": "b"})
    assert t.name == helper and t.automation == flyte.Cron(expression)
    assert t.inputs == {"at": flyte.TriggerTime, "x": 1} and t.queue == "q" and t.env_vars == {"A": "b"}
    assert getattr(flyte.Trigger, helper)(name="mine").inputs == {}
    with pytest.raises(TypeError):
        getattr(flyte.Trigger, helper)(bogus=1)


def test_on_artifact_and_triggered_artifact():
    on = flyte.OnArtifact("model", version="v3", partitions={"region": "eu"})
    assert (on.name, on.version, on.partitions, on.artifact_name) == ("model", "v3", {"region": "eu"}, "model")
    assert flyte.OnArtifact(artifact_name="model", partition={"r": "x"}) == flyte.OnArtifact(
        "model", partitions={"r": "x"}
    )
    t = flyte.Trigger("retrain", flyte.OnArtifact("model"), inputs={"m": flyte.TriggeredArtifact, "k": 0.5})
    assert t.inputs["m"] is flyte.TriggeredArtifact
    with pytest.raises(ValueError, match="non-empty"):
        flyte.OnArtifact("")
    with pytest.raises(TypeError, match="partitions"):
        flyte.OnArtifact("m", partitions={"r": 1})


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"name": "", "automation": flyte.Cron("0 * * * *")}, "name cannot be empty"),
        ({"name": "t", "automation": None}, "Automation cannot be None"),
        ({"name": "t", "automation": flyte.FixedRate(5), "inputs": {"a": flyte.TriggeredArtifact}}, "not OnArtifact"),
        (
            {
                "name": "t",
                "automation": flyte.OnArtifact("m"),
                "inputs": {"a": flyte.TriggeredArtifact, "b": flyte.TriggeredArtifact},
            },
            "several inputs",
        ),
        ({"name": "t", "automation": flyte.OnArtifact("m"), "inputs": {"a": flyte.TriggerTime}}, "TriggerTime"),
        ({"name": "t", "automation": flyte.FixedRate(5), "max_action_concurrency": 1}, "max_action_concurrency"),
    ],
)
def test_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        flyte.Trigger(**kwargs)


def test_long_description_is_shortened_and_sentinels_are_singletons():
    t = flyte.Trigger("t", flyte.FixedRate(5, start_time=datetime(2026, 1, 1)), description="x" * 400)
    assert len(t.description) == 255 and t.description.endswith("...")
    assert flyte.TriggerTime() is flyte.TriggerTime and repr(flyte.TriggeredArtifact) == "TriggeredArtifact"


def test_a_task_carries_its_triggers():
    env = flyte.TaskEnvironment(name="trig")

    @env.task(triggers=flyte.Trigger.daily("run_date"))
    def report(run_date: datetime) -> str:
        return run_date.isoformat()

    assert report.triggers[0].inputs == {"run_date": flyte.TriggerTime}
