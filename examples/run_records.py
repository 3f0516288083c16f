"""Reading runs back with ``flyte.remote``: find a run and its actions, see each attempt's phases and
how long it spent in them, read one attempt's logs -- the way a notebook inspects what ran.

Each handle's ``url`` is where a person looks at it: while ``roost server`` runs for this ROOST_HOME,
the console's run page (an action's opens with that action selected: its inputs and outputs by type,
logs, checkpoints, the environment it ran with); without a server, the run's or action's folder."""

import asyncio
from datetime import timedelta

import roost as flyte
from roost.remote import Action, Run

env = flyte.TaskEnvironment(name="records")


@env.task(retries=flyte.RetryStrategy(count=2, backoff=timedelta(milliseconds=200)))
async def fetch(page: int) -> int:
    attempt = flyte.ctx().attempt_number
    print(f"fetching page {page}, attempt {attempt + 1}")
    if page == 2 and attempt == 0:
        raise ConnectionError("the server hung up")  # the retry succeeds
    return page * 10


@env.task
async def crawl(pages: int) -> int:
    return sum(await asyncio.gather(*(fetch(p) for p in range(pages))))


if __name__ == "__main__":
    flyte.init()
    name = flyte.with_runcontext(name="crawl-demo").run(crawl, 3).name

    run = Run.get(name)  # any recorded run, also from another process
    print(f"run {run.name}: {run.phase.value}, outputs {tuple(run.outputs())}, page {run.url}")
    for action in Action.listall(for_run_name=name, parent_name="a0"):
        details = action.details()
        inputs = dict(Action.get(run_name=name, name=action.name).inputs())
        print(f"  {action.name[:8]} inputs {inputs} at {action.url}")
        for attempt in range(1, details.attempts + 1):
            phases = ", ".join(
                f"{t.phase.value} {t.duration.total_seconds() * 1000:.1f} ms"
                for t in details.get_phase_transitions(attempt)
            )
            logs = list(action.get_logs(attempt=attempt))
            print(f"    attempt {attempt}: {phases}; logs {logs}")
    retried = [a for a in Action.listall(for_run_name=name) if a.details().attempts > 1]
    print(
        f"retried: {[a.name[:8] for a in retried]}, queued for its retry "
        f"{retried[0].details().queued_time.total_seconds() * 1000:.0f} ms"
    )
