"""A task that may produce no directory (EmptyDir), a value pickled by choice, and a renderer."""

import os
import tempfile

import roost as flyte
from roost.io import Dir, EmptyDir
from roost.types import FlytePickle, Renderable

env = flyte.TaskEnvironment(name="empty_dir_pickle", env_vars={"PROGRAM": "empty_dir_pickle"})


class Counter:
    def __init__(self) -> None:
        self.seen: set[str] = set()


class Stars:
    def to_html(self, python_value: int) -> str:
        return "*" * python_value


@env.task
def export(rows: int) -> Dir:
    if rows == 0:
        return EmptyDir()
    out = tempfile.mkdtemp()
    with open(os.path.join(out, "rows.txt"), "w") as f:
        f.write("x\n" * rows)
    return Dir.from_local_sync(out)


@env.task
def remember(counter: FlytePickle[Counter], word: str) -> FlytePickle[Counter]:
    counter.seen.add(word)
    return counter


if __name__ == "__main__":
    flyte.init_from_config()
    empty = flyte.run(export, 0).outputs()[0]
    full = flyte.run(export, 2).outputs()[0]
    assert empty.is_empty and not full.is_empty and len(full.list_files_sync()) == 1
    counter = flyte.run(remember, Counter(), "hello").outputs()[0]
    assert counter.seen == {"hello"}
    assert isinstance(Stars(), Renderable)
    print("empty dir, pickle and renderable ok:", Stars().to_html(3))
