"""Checkpoints with the SDK's helper: a sync task saves its progress as bytes and its retry resumes
from them; an async task saves a folder of Lightning-style checkpoints and its retry finds
`last.ckpt` in it with flyte.latest_checkpoint."""

import json
import sys
import tempfile
from pathlib import Path

import roost as flyte

env = flyte.TaskEnvironment(name="checkpointed")


@env.task(retries=2)
def tally(words: list[str]) -> dict:
    cp = flyte.ctx().checkpoint
    saved = cp.load_sync()  # None on the first attempt
    state = json.loads(saved.read_bytes()) if saved else {"done": 0, "letters": 0}
    resumed_at = state["done"]
    for i in range(state["done"], len(words)):
        state = {"done": i + 1, "letters": state["letters"] + len(words[i])}
        cp.save_sync(json.dumps(state).encode())
        if saved is None and i == 2:
            raise ConnectionError("lost the connection to the word source")
    return {"letters": state["letters"], "resumed_at": resumed_at}


@env.task(retries=1)
async def train(epochs: int) -> dict:
    cp = flyte.ctx().checkpoint
    previous = await cp.load()
    start, loss = 0, 1.0
    if previous is not None:
        state = json.loads(flyte.latest_checkpoint(previous).read_text())
        start, loss = state["epoch"], state["loss"]
    workdir = Path(tempfile.mkdtemp(prefix="lightning-")) / "checkpoints"
    workdir.mkdir()
    for epoch in range(start, epochs):
        loss = round(loss * 0.5, 6)
        state = json.dumps({"epoch": epoch + 1, "loss": loss})
        (workdir / f"epoch={epoch + 1}.ckpt").write_text(state)
        (workdir / "last.ckpt").write_text(state)
        await cp.save(workdir.parent)
        if previous is None and epoch + 1 == 3:
            raise RuntimeError("the spot node was reclaimed")
    return {"loss": loss, "resumed_at": start}


@env.task
async def main() -> dict:
    return {"tally": await tally.aio(["ant", "bee", "cat", "dove", "eel"]), "train": await train.aio(5)}


if __name__ == "__main__":
    flyte.init_from_config()
    run = flyte.run(main)
    out = run.outputs()[0]
    assert out["tally"] == {"letters": 16, "resumed_at": 3}, out
    assert out["train"] == {"loss": 0.03125, "resumed_at": 3}, out
    attempts = {a.name: a.details().attempts for a in flyte.remote.Action.listall(for_run_name=run.name)}
    print(json.dumps({"run": run.name, "out": out, "attempts": sorted(attempts.values())}))
    sys.exit(0)
