"""Tasks of the compat tests that worker processes import (so they live in a module)."""

from __future__ import annotations

import roost as flyte

env = flyte.TaskEnvironment(name="logs")
# env_vars give the environment a worker process of its own (isolation "auto").
worker_env = flyte.TaskEnvironment(name="logs_worker", env_vars={"WHERE": "worker"})


@worker_env.task
def in_worker(n: int) -> int:
    flyte.logger.info("worker says %d", n)
    flyte.logger.debug("hidden at the default level")
    return n + 1


@env.task
async def inline(n: int) -> int:
    flyte.logger.info("inline says %d", n)
    flyte.logger.warning("careful")
    return await in_worker.aio(n)


@worker_env.task
def where_am_i() -> tuple[str, str, str | None]:
    return flyte.current_project(), flyte.current_domain(), flyte.ctx().action.project
