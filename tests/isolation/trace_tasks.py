"""Tasks with @flyte.trace helpers, in a module worker processes can import."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import roost as flyte

env = flyte.TaskEnvironment(name="traced")


def _mark(marks: str, name: str) -> None:
    with open(Path(marks) / name, "a") as f:
        f.write("x")


@flyte.trace
async def fetch(marks: str, x: int) -> int:
    _mark(marks, f"fetch-{x}")
    return x * 10


@flyte.trace
def tokenize(marks: str, text: str):  # unannotated return: recorded pickled, still replayed
    _mark(marks, "tokenize")
    return text.split()


@flyte.trace
async def flaky(marks: str) -> int:
    _mark(marks, "flaky")
    raise LookupError("the service said no")


@flyte.trace
def count_up(n: int) -> Iterator[int]:
    yield from range(n)


@flyte.trace
async def count_down(n: int) -> AsyncIterator[int]:
    for i in range(n, 0, -1):
        yield i


@env.task
async def pipeline(marks: str, fail_flag: str) -> int:
    total = await fetch(marks, 1) + await fetch(marks, 2) + await fetch(marks, 1)
    total += len(tokenize(marks, "a b c"))
    try:
        await flaky(marks)
    except LookupError:
        total += 1000
    total += sum(count_up(3)) + sum([i async for i in count_down(2)])
    if Path(fail_flag).exists():
        raise RuntimeError("failing after the traced calls, as asked")
    return total


@env.task
def sync_pipeline(marks: str) -> int:
    # A sync task runs on a thread: its sync helper waits for the controller's answer there.
    return len(tokenize(marks, "one two"))


@flyte.trace
def open_client(name: str):  # returns what cannot be pickled: still returned, just not recorded
    import threading

    return {"name": name, "lock": threading.Lock()}


@flyte.trace
def takes_one(x: int) -> int:
    return x


@env.task
def uses_unrecordable() -> str:
    client = open_client("db")
    with client["lock"]:
        pass
    try:
        takes_one(1, 2)  # a wrong call fails as Python says, traced or not
    except TypeError as e:
        return f"{client['name']}: {e}"
    return "no error"
