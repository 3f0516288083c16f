"""A reusable environment: two warm replicas, four concurrent calls each. The "model" is loaded once
per replica into a module global and every later call on that replica finds it there."""

import asyncio
import json
import os
import sys

import roost as flyte

serving = flyte.TaskEnvironment(
    name="sentiment", reusable=flyte.ReusePolicy(replicas=2, concurrency=4), env_vars={"MODEL": "lexicon-v2"}
)
driver = flyte.TaskEnvironment(name="driver", depends_on=[serving])

_model: dict[str, int] | None = None
_loads = 0
_served = 0


def load_model() -> dict[str, int]:
    global _model, _loads
    if _model is None:
        _loads += 1
        _model = {"good": 1, "great": 2, "bad": -1, "awful": -2}
    return _model


@serving.task
async def score(review: str) -> dict:
    global _served
    model = load_model()
    _served += 1
    await asyncio.sleep(0.05)  # an inference call
    value = sum(model.get(word, 0) for word in review.split())
    return {"score": value, "pid": os.getpid(), "loads": _loads, "served": _served, "model": os.environ["MODEL"]}


@driver.task
async def main(reviews: list[str]) -> list[dict]:
    first = await asyncio.gather(*(score.aio(r) for r in reviews))
    second = await asyncio.gather(*(score.aio(r) for r in reviews))
    return list(first) + list(second)


if __name__ == "__main__":
    flyte.init_from_config()
    reviews = ["good food", "awful service", "great great view", "bad", "fine", "good but bad"] * 2
    run = flyte.run(main, reviews)
    replies = run.outputs()[0]
    assert [r["score"] for r in replies] == [1, -2, 4, -1, 0, 0] * 4
    pids = {r["pid"] for r in replies}
    assert 1 <= len(pids) <= 2 and os.getpid() not in pids
    assert {r["loads"] for r in replies} == {1}  # loaded once per replica, never again
    served = {pid: max(r["served"] for r in replies if r["pid"] == pid) for pid in pids}
    assert sum(served.values()) == len(replies)  # the counters survived every call
    assert {r["model"] for r in replies} == {"lexicon-v2"}
    print(
        json.dumps({"run": run.name, "calls": len(replies), "replicas": len(pids), "served": sorted(served.values())})
    )
    sys.exit(0)
