"""The cache version: editing a task's code invalidates its entries; editing comments does not; an
explicit version_override is the version whatever the code."""

from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path
from types import ModuleType

import roost as flyte

MODULE = """
import roost as flyte

env = flyte.TaskEnvironment(name="versions")
RAN = []


@env.task(cache={cache})
async def compute(x: int) -> int:
{body}
"""


def load(tmp_path: Path, name: str, body: str, cache: str = '"auto"') -> ModuleType:
    """Import a module (file ``name``.py) defining task ``versions.compute`` with this body: every
    version has the same task name, as one file edited between two runs would."""
    path = tmp_path / f"{name}.py"
    path.write_text(MODULE.format(cache=cache, body=textwrap.indent(textwrap.dedent(body).strip(), "    ")))
    spec = importlib.util.spec_from_file_location(f"cache_versions_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ORIGINAL = """
RAN.append(x)
return x + 1
"""
COMMENTED = """
# The answer, plus one.
RAN.append(x)

return x + 1  # unchanged code
"""
CHANGED = """
RAN.append(x)
return x + 2
"""


def test_editing_the_body_invalidates_and_editing_comments_does_not(tmp_path):
    v1 = load(tmp_path, "v1", ORIGINAL)
    assert flyte.run(v1.compute, 1).outputs()[0] == 2
    assert v1.RAN == [1]

    comments = load(tmp_path, "v1_comments", COMMENTED)
    assert comments.compute.name == v1.compute.name
    assert flyte.run(comments.compute, 1).outputs()[0] == 2
    assert comments.RAN == []  # same syntax tree: the stored result stands

    v2 = load(tmp_path, "v2", CHANGED)
    assert flyte.run(v2.compute, 1).outputs()[0] == 3
    assert v2.RAN == [1]  # new code: it ran
    assert flyte.run(v2.compute, 1).outputs()[0] == 3 and v2.RAN == [1]


def test_version_override_ignores_the_code(tmp_path):
    pinned = 'flyte.Cache("override", version_override="7")'
    v1 = load(tmp_path, "p1", ORIGINAL, pinned)
    v2 = load(tmp_path, "p2", CHANGED, pinned)
    assert flyte.run(v1.compute, 1).outputs()[0] == 2
    assert flyte.run(v2.compute, 1).outputs()[0] == 2  # the explicit version says: same results
    assert v2.RAN == []
    v3 = load(tmp_path, "p3", CHANGED, 'flyte.Cache("override", version_override="8")')
    assert flyte.run(v3.compute, 1).outputs()[0] == 3


def test_a_new_salt_invalidates(tmp_path):
    salted = load(tmp_path, "s1", ORIGINAL, 'flyte.Cache("auto", salt="one")')
    resalted = load(tmp_path, "s2", ORIGINAL, 'flyte.Cache("auto", salt="two")')
    flyte.run(salted.compute, 1)
    flyte.run(resalted.compute, 1)
    assert salted.RAN == [1] and resalted.RAN == [1]
    again = load(tmp_path, "s3", ORIGINAL, 'flyte.Cache("auto", salt="one")')
    flyte.run(again.compute, 1)
    assert again.RAN == []


def test_the_version_is_computed_once_per_task(tmp_path, monkeypatch):
    from roost.spec import cache as cache_spec

    calls = []
    original = cache_spec.function_body_hash

    def counting(func, salt=""):
        calls.append(func)
        return original(func, salt)

    monkeypatch.setattr(cache_spec, "function_body_hash", counting)
    module = load(tmp_path, "once", ORIGINAL)
    for x in range(5):
        flyte.run(module.compute, x)
    assert len(calls) == 1
