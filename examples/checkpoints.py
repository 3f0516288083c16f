"""Intra-task checkpoints: a long task saves its progress, and its retry resumes from it."""

import os
import tempfile
from datetime import timedelta

import roost as flyte

env = flyte.TaskEnvironment(name="training")
retry_fast = flyte.RetryStrategy(2, backoff=flyte.Backoff(timedelta(milliseconds=50), 1.0, timedelta(seconds=1)))


@env.task(retries=retry_fast)
def train(epochs: int) -> str:
    ctx = flyte.ctx()
    saved = ctx.checkpoint.read()  # None on the first attempt
    start = int(saved) if saved else 0
    for epoch in range(start, epochs):
        # ... one epoch of training ...
        ctx.checkpoint.write(str(epoch + 1).encode())
        if ctx.attempt_number == 0 and epoch + 1 == epochs // 2:
            raise RuntimeError("the spot instance was reclaimed")  # simulated, on the first attempt
    return f"attempt {ctx.attempt_number} resumed at epoch {start} and finished {epochs} epochs"


if __name__ == "__main__":
    os.environ.setdefault("ROOST_HOME", tempfile.mkdtemp())
    run = flyte.run(train, 10)
    print(run.outputs()[0])
    assert run.outputs()[0].startswith("attempt 1 resumed at epoch 5")
