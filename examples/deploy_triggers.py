"""Deploy a task with triggers to a roost server, look at them, run the deployed task, backfill
(docs/deploy.md "Triggers").

    roost server start --detach           # without one, the example starts (and stops) its own
    python examples/deploy_triggers.py

The same from the command line: `roost deploy examples/deploy_triggers.py`, `roost get triggers`,
`roost trigger backfill hourly_refresh --from ... --to ...`, `roost trigger deactivate nightly`.
"""

import json
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import roost as flyte

ROOST = str(Path(sys.executable).with_name("roost"))
START = datetime(2026, 1, 1, tzinfo=timezone.utc)

env = flyte.TaskEnvironment(name="example_reports")


@env.task(
    triggers=[
        # 02:00 in Paris every day, winter and summer time alike; `day` receives the scheduled time.
        flyte.Trigger(
            "nightly",
            flyte.Cron("0 2 * * *", timezone="Europe/Paris"),
            inputs={"day": flyte.TriggerTime, "region": "eu"},
        ),
        # Every hour on the grid START + k hours (inactive until activated).
        flyte.Trigger(
            "hourly_refresh",
            flyte.FixedRate(60, start_time=START),
            inputs={"day": flyte.TriggerTime, "region": "all"},
            auto_activate=False,
        ),
    ]
)
async def build_report(day: datetime, region: str) -> str:
    return f"{region} report for {day:%Y-%m-%d %H:%M} UTC"


def finished(name: str) -> flyte.remote.Run:
    """Run ``name`` once it has ended (a backfill starts its runs as earlier ones end)."""
    deadline = time.monotonic() + 120
    while True:
        try:
            run = flyte.remote.Run.get(name)
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    run.wait(quiet=True)
    return run


def server_url() -> tuple[str, bool]:
    """The server running for ROOST_HOME, else one started here (and stopped at the end)."""
    status = subprocess.run([ROOST, "server", "status", "--json"], capture_output=True, text=True)
    info = json.loads(status.stdout or "{}")
    if info.get("answering"):
        return info["url"], False
    subprocess.run([ROOST, "server", "start", "--detach", "--port", "0"], check=True)
    info = json.loads(subprocess.run([ROOST, "server", "status", "--json"], capture_output=True, text=True).stdout)
    return info["url"], True


if __name__ == "__main__":
    url, started_here = server_url()
    try:
        flyte.init(endpoint=url, root_dir=Path(__file__).parent)
        deployment = flyte.deploy(env)[0]
        print(deployment.summary_repr())
        for trigger in flyte.remote.Trigger.listall(task_name="example_reports.build_report"):
            state = f"next {trigger.next_fire:%Y-%m-%d %H:%M} UTC" if trigger.is_active else "inactive"
            print(f"trigger {trigger.name}: {trigger.automation_spec['kind']}, {state}")

        # Run the deployed version by hand, as a firing would (no code needed on this side).
        lazy = flyte.remote.Task.get("example_reports.build_report", auto_version="latest")
        run = flyte.run(lazy, day=START, region="manual")
        run.wait(quiet=True)
        print(run.outputs()[0])

        # Backfill three hours of the hourly trigger: one run per scheduled time, each named after it.
        until = START + timedelta(hours=3)
        period = ["--from", START.isoformat(), "--to", until.isoformat()]
        filled = subprocess.run(
            [ROOST, "trigger", "backfill", "hourly_refresh", "--endpoint", url, "--concurrency", "2", *period],
            capture_output=True,
            text=True,
            check=True,
        )
        for name in filled.stdout.split():  # started in the background, two at a time
            print(f"backfilled {name}: {finished(name).outputs()[0]}")
        # Leave the server as it was: the nightly trigger does not keep firing an example.
        flyte.remote.Trigger.update("nightly", "example_reports.build_report", active=False)
    finally:
        if started_here:
            subprocess.run([ROOST, "server", "stop"], check=True)
