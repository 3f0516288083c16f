"""What a run hands back for a pandas output, with and without preserve_original_types."""

import pandas as pd

import roost as flyte

env = flyte.TaskEnvironment(name="frames")


@env.task
async def scores(n: int) -> pd.DataFrame:
    return pd.DataFrame({"player": [f"p{i}" for i in range(n)], "score": [i * 10 for i in range(n)]})


@env.task
async def best(frame: pd.DataFrame) -> str:
    return str(frame.sort_values("score").iloc[-1]["player"])


if __name__ == "__main__":
    flyte.init_from_config()
    ref = flyte.with_runcontext(preserve_original_types=False).run(scores, 3).outputs()[0]
    assert isinstance(ref, flyte.io.DataFrame), type(ref)
    frame = flyte.with_runcontext(preserve_original_types=True).run(scores, 3).outputs()[0]
    assert isinstance(frame, pd.DataFrame), type(frame)
    assert flyte.run(best, ref).outputs()[0] == "p2"
    print("frames ok:", type(ref).__name__, type(frame).__name__, len(frame))
