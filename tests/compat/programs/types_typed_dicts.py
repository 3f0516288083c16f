"""A settings TypedDict whose optional keys a worker process receives only when they were given."""

from typing import NotRequired, TypedDict

import roost as flyte


class Settings(TypedDict):
    name: str
    verbose: NotRequired[bool]


class Extras(TypedDict, total=False):
    tags: list[str]
    weight: float


env = flyte.TaskEnvironment(name="typed_dicts", env_vars={"PROGRAM": "typed_dicts"})


@env.task
def summarize(settings: Settings, extras: Extras) -> tuple[Settings, list[str]]:
    return settings, sorted(settings) + sorted(extras)


if __name__ == "__main__":
    flyte.init_from_config()
    settings, keys = flyte.run(summarize, {"name": "a"}, {}).outputs()
    assert settings == {"name": "a"} and keys == ["name"], (settings, keys)
    settings, keys = flyte.run(summarize, {"name": "b", "verbose": True}, {"weight": 0.5}).outputs()
    assert settings == {"name": "b", "verbose": True} and keys == ["name", "verbose", "weight"], keys
    print("typed dicts ok:", keys)
