"""Tasks that checkpoint their progress, in a module worker processes can import."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import roost as flyte

env = flyte.TaskEnvironment(name="checkpointed")
quick = flyte.RetryStrategy(3, backoff=flyte.Backoff(timedelta(milliseconds=10), 1.0, timedelta(milliseconds=10)))


@env.task(retries=quick)
def train(epochs: int, crash_at: list[int]) -> list[int]:
    """Saves the epoch reached after each one; crashes at the listed epochs (once each: the attempt
    that resumes past one goes on). Returns [attempt, the epoch it resumed at]."""
    ctx = flyte.ctx()
    saved = ctx.checkpoint.read()
    start = int(saved) if saved else 0
    for epoch in range(start, epochs):
        ctx.checkpoint.write(str(epoch + 1).encode())
        if epoch + 1 in crash_at and start < epoch + 1:
            raise RuntimeError(f"crashed after epoch {epoch + 1}")
    return [ctx.attempt_number, start]


@env.task
async def first_look() -> list[object]:
    cp = flyte.ctx().checkpoint
    return [cp.prev_exists(), cp.read(), flyte.ctx().checkpoint_paths.prev_checkpoint_path]


@env.task(retries=quick)
def model_files(folder: str, fail_first: bool) -> str:
    """Saves a folder of files; the next attempt restores it into ``folder``/restored."""
    ctx = flyte.ctx()
    restored = ctx.checkpoint.restore(Path(folder) / f"restored-{ctx.attempt_number}")
    if restored is not None:
        return (restored / "weights" / "layer1.txt").read_text()
    work = Path(folder) / "work"
    (work / "weights").mkdir(parents=True, exist_ok=True)
    (work / "weights" / "layer1.txt").write_text("trained weights")
    ctx.checkpoint.save(work)
    if fail_first:
        raise RuntimeError("preempted")
    return "not restored"


@env.task
def long_job(epochs: int, stop_flag: str) -> int:
    """Without retries: a crash ends the run; a recovered run resumes from the checkpoint."""
    ctx = flyte.ctx()
    saved = ctx.checkpoint.read()
    start = int(saved) if saved else 0
    for epoch in range(start, epochs):
        ctx.checkpoint.write(str(epoch + 1).encode())
        if epoch + 1 == epochs // 2 and Path(stop_flag).exists():
            raise RuntimeError("the machine went away")
    return start


# -- the Flyte SDK's helper: load / save (async) and load_sync / save_sync ------------------------------
@env.task(retries=quick)
def sdk_sync_bytes(n: int) -> list[int]:
    """Counts to n, saving the count as bytes, failing once half-way; returns [attempt, resumed at]."""
    cp = flyte.ctx().checkpoint
    loaded = cp.load_sync()
    start = int(loaded.read_bytes()) if loaded is not None else 0
    for i in range(start, n):
        cp.save_sync(str(i + 1).encode())
        if i + 1 == n // 2 and start == 0:
            raise RuntimeError("fails once half-way")
    return [flyte.ctx().attempt_number, start]


@env.task(retries=quick)
async def sdk_async_folder(folder: str) -> list[object]:
    """Saves a folder of one file (a folder, not a file, comes back), fails once, and reads it back."""
    cp = flyte.ctx().checkpoint
    loaded = await cp.load()
    if loaded is None:
        work = Path(folder) / "work"
        (work / "ckpts").mkdir(parents=True, exist_ok=True)
        (work / "ckpts" / "last.ckpt").write_text("epoch 7")
        await cp.save(work)
        raise RuntimeError("fails after saving")
    last = flyte.latest_checkpoint(loaded)
    return [loaded == cp.path, last.relative_to(loaded).as_posix(), last.read_text(), await cp.load() is loaded]


@env.task(retries=quick)
async def sdk_async_file(folder: str) -> str:
    """Saves a file twice (the second replaces the first), fails once; the file comes back as payload."""
    cp = flyte.ctx().checkpoint
    loaded = await cp.load()
    if loaded is None:
        for text in ("first", "second"):
            (Path(folder) / "model.bin").write_text(text)
            await cp.save(str(Path(folder) / "model.bin"))
        raise RuntimeError("fails after saving")
    return f"{loaded.name}={loaded.read_text()}"
