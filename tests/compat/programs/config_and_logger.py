"""Reads the project from the Flyte config file it finds, logs with flyte.logger inline and in a worker."""

import asyncio
import json

import roost as flyte

env = flyte.TaskEnvironment(name="greeter")
isolated = flyte.TaskEnvironment(name="shouter", env_vars={"VOLUME": "loud"})


@isolated.task
def shout(word: str) -> str:
    flyte.logger.info("shouting %s", word)
    return word.upper()


@env.task
async def greet(names: list[str]) -> str:
    flyte.logger.info("greeting %d people", len(names))
    loud = await asyncio.gather(*(shout.aio(n) for n in names))
    return ", ".join(loud)


if __name__ == "__main__":
    flyte.init_from_config()
    run = flyte.run(greet, ["ada", "bob"])
    print(json.dumps({"run": run.name, "result": run.outputs()[0], "project": flyte.current_project()}))
