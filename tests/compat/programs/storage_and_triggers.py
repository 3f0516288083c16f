"""Passes data between tasks through flyte.storage; declares schedule and artifact triggers."""

import json
from datetime import datetime

import roost as flyte

env = flyte.TaskEnvironment(name="nightly")

nightly = flyte.Trigger.daily("run_date", inputs={"prefix": "night"})
on_model = flyte.Trigger(
    "on-new-model",
    flyte.OnArtifact("model", partitions={"region": "eu"}),
    inputs={"model_uri": flyte.TriggeredArtifact},
)


@env.task
async def write_report(prefix: str, run_date: datetime) -> str:
    body = f"{prefix} report for {run_date:%Y-%m-%d}".encode()
    return await flyte.storage.put_stream(body, name="report.txt")


@env.task(triggers=[on_model])
async def read_back(model_uri: str) -> str:
    chunks = [c async for c in flyte.storage.get_stream(model_uri)]
    return b"".join(chunks).decode()


@env.task(triggers=nightly)
async def report(prefix: str = "day", run_date: datetime = datetime(2026, 1, 2)) -> str:
    uri = await write_report(prefix, run_date)
    assert await flyte.storage.exists(uri)
    return await read_back(uri)


if __name__ == "__main__":
    flyte.init_from_config()
    run = flyte.run(report, "night", datetime(2026, 3, 4))
    trigger = report.triggers[0]
    print(
        json.dumps(
            {
                "result": run.outputs()[0],
                "schedule": trigger.automation.timezone_expression,
                "bound": sorted(trigger.inputs),
                "artifact": str(read_back.triggers[0].automation),
            }
        )
    )
