"""Dataclass and pydantic inputs given as plain dicts, from code and from the command line."""

from dataclasses import dataclass, field

from pydantic import BaseModel

import roost as flyte


@dataclass
class Window:
    start: int
    end: int


@dataclass
class Query:
    table: str
    window: Window
    columns: list[str] = field(default_factory=lambda: ["*"])


class Reader(BaseModel):
    name: str
    windows: list[Window] = []


env = flyte.TaskEnvironment(name="dict_inputs")


@env.task
def plan(query: Query) -> str:
    assert isinstance(query.window, Window)
    return f"select {','.join(query.columns)} from {query.table} [{query.window.start},{query.window.end})"


@env.task
def greet(reader: Reader) -> str:
    return f"{reader.name}:{sum(w.end - w.start for w in reader.windows)}"


if __name__ == "__main__":
    flyte.init_from_config()
    text = flyte.run(plan, {"table": "events", "window": {"start": 1, "end": 5}}).outputs()[0]
    assert text == "select * from events [1,5)", text
    assert flyte.run(greet, {"name": "ada", "windows": [{"start": 0, "end": 3}]}).outputs()[0] == "ada:3"
    print(text)
