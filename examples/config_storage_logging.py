"""A Flyte 2 script as it is usually written: init_from_config() first, flyte.logger in tasks,
flyte.storage to hand data around, a schedule declared with a Trigger.

Run it with `python examples/config_storage_logging.py`; then `roost get logs NAME` shows the
logger's lines under the actions that wrote them.
"""

from datetime import datetime

import roost as flyte

env = flyte.TaskEnvironment(name="daily_digest")


@env.task
async def collect(day: datetime) -> str:
    flyte.logger.info("collecting for %s", day.date())
    text = "\n".join(f"{day:%Y-%m-%d} item {i}" for i in range(3))
    return await flyte.storage.put_stream(text.encode(), name="digest.txt")


@env.task(triggers=flyte.Trigger.daily("day"))
async def digest(day: datetime = datetime(2026, 1, 1)) -> int:
    uri = await collect(day)
    local = await flyte.storage.get(uri)
    with open(local) as f:
        lines = f.read().splitlines()
    flyte.logger.info("digest has %d lines", len(lines))
    return len(lines)


if __name__ == "__main__":
    try:
        # No config file (or one without admin.endpoint): a local run, as in Flyte.
        flyte.init_from_config()
    except flyte.errors.InitializationError as e:
        # This machine's Flyte config names a control plane roost cannot reach: run locally anyway.
        print(f"note: {e.message}")
        flyte.init()
    run = flyte.run(digest, datetime(2026, 12, 6))
    print(f"run {run.name}: {run.outputs()[0]} lines; schedule {digest.triggers[0].automation}")
