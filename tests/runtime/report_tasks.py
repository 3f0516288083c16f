"""Report tasks whose environment declares env vars, so they run in worker processes (a module the
workers can import: they find tasks by module and name)."""

from __future__ import annotations

import asyncio
import os
import warnings

import roost as flyte

isolated = flyte.TaskEnvironment(name="report_isolated", env_vars={"REPORT_ENV": "worker"})


@isolated.task(report=True)
async def async_in_worker(text: str) -> str:
    await flyte.report.log.aio(f"<p>{text} from pid {os.getpid()}</p>")
    return str(os.getpid())


@isolated.task(report=True)
def sync_in_worker(text: str) -> str:
    flyte.report.log(f"<p>{text} from pid {os.getpid()}</p>")
    flyte.report.get_tab("env").log(f"<code>{os.environ.get('REPORT_ENV', '')}</code>")
    return str(os.getpid())


@isolated.task
def flushed_in_worker(text: str) -> str:
    """No report=True: only the explicit flush writes the page."""
    flyte.report.replace(f"<p>{text}</p>", do_flush=True)
    return flyte.ctx().output_path


with warnings.catch_warnings():  # one replica on purpose: the warning about starvation is expected
    warnings.simplefilter("ignore")
    shared = flyte.TaskEnvironment(
        name="report_shared", reusable=flyte.ReusePolicy(replicas=1, concurrency=2, idle_ttl=60, scaledown_ttl=60)
    )


@shared.task(report=True)
async def on_replica(tag: str) -> str:
    """Two calls run at once on one replica: each keeps its own report."""
    for i in range(3):
        await flyte.report.log.aio(f"<p>{tag} {i}</p>")
        await asyncio.sleep(0.01)
    return str(os.getpid())


@shared.task
async def both_on_replica() -> list[str]:
    return list(await asyncio.gather(on_replica("left"), on_replica("right")))
