"""flyte.map on its own: over a list with a sync task from sync code, over a list with an async task
from async code (with a concurrency bound), and plain calls gathered inside flyte.group."""

import asyncio
import json
import sys

import roost as flyte

env = flyte.TaskEnvironment(name="catalog")


@env.task
def normalise(sku: str) -> str:
    return sku.strip().upper().replace(" ", "-")


@env.task
async def price(sku: str) -> float:
    await asyncio.sleep(0.01)  # a price service
    return round(len(sku) * 1.25, 2)


@env.task
def clean(skus: list[str]) -> list[str]:
    return list(flyte.map(normalise, skus))


@env.task
async def quote(skus: list[str]) -> dict:
    names = await clean.aio(skus)
    prices = [p async for p in flyte.map.aio(price, names, concurrency=2)]
    with flyte.group("restock"):
        restocked = await asyncio.gather(*(price.aio(name + "-R") for name in names[:2]))
    return {"names": names, "prices": prices, "restocked": list(restocked)}


if __name__ == "__main__":
    flyte.init_from_config()
    run = flyte.run(quote, [" red mug", "blue cap ", "tote bag"])
    out = run.outputs()[0]
    assert out == {
        "names": ["RED-MUG", "BLUE-CAP", "TOTE-BAG"],
        "prices": [8.75, 10.0, 10.0],
        "restocked": [11.25, 12.5],
    }, out
    print(json.dumps({"run": run.name, "out": out}))
    sys.exit(0)
