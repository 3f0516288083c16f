"""Tasks whose environments have images, in a module workers can import.

``pyjokes`` is a small pure-Python package the test environment does not have: only a worker running
in the image's virtualenv can import it.
"""

from __future__ import annotations

import os
import sys
from importlib.metadata import version

import roost as flyte

BASE = flyte.Image.from_base("python:3.11-slim").clone(name="roost-test", extendable=True)

jokes_image = BASE.with_pip_packages("pyjokes==0.8.3").with_env_vars({"JOKE_MOOD": "dry, at $HOME"})
jokes = flyte.TaskEnvironment(name="jokes", image=jokes_image)

jokes_pool = flyte.TaskEnvironment(
    name="jokes-pool", image=jokes_image, reusable=flyte.ReusePolicy(replicas=1, concurrency=2, idle_ttl=60)
)


@jokes.task
def tell_joke() -> dict[str, str]:
    import pyjokes

    return {
        "joke": pyjokes.get_joke(language="en", category="neutral"),
        "version": version("pyjokes"),
        "python": sys.executable,
        "mood": os.environ.get("JOKE_MOOD", ""),
        "virtual_env": os.environ.get("VIRTUAL_ENV", ""),
    }


@jokes_pool.task
async def pooled_joke() -> str:
    import pyjokes

    return f"{version(pyjokes.__name__)} {sys.executable}"


@jokes.task
async def joke_then_plain() -> str:
    """A task of the image calls a plain task: the child runs inline in the controller."""
    import pyjokes

    return f"{version(pyjokes.__name__)}:{await plain_length('abc')}"


plain = flyte.TaskEnvironment(name="plain-images")


@plain.task
async def plain_length(text: str) -> int:
    return len(text)
