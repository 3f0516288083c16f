"""The cache key of an action (as Flyte computes it), and what every call of one task shares in it.

key = base64(SHA-256(inputs hash, task FQN, interface hash, cache version)), where the inputs hash
leaves out the task's ``ignored_inputs`` and counts File/Dir/DataFrame values by content hash. The
image, resources, env vars, secrets, retries, custom context and run name are deliberately not part
of it: they change where and how a task runs, not what it computes.
"""

from __future__ import annotations

import base64
import hashlib
import weakref
from dataclasses import dataclass
from typing import Any

from roost.core.task_spec import TaskSpec
from roost.runtime import values
from roost.spec.cache import VersionParameters
from roost.store.records import ActionRecord
from roost.task import TaskTemplate


@dataclass(frozen=True, slots=True)
class TaskCacheFacts:
    """The parts of the key and the cache settings that every call of one task template shares."""

    task_name: str
    version: str
    # "\n" + FQN + "\n" + interface hash + "\n" + version: appended to each call's inputs hash.
    suffix: bytes
    ignored: tuple[str, ...]
    max_age: float  # seconds a stored result stays usable; 0: forever
    serialize: bool


# Computed once per task template: FunctionBodyPolicy reads and parses the function's source, far too
# slow to repeat for every call. Weak, so templates built at run time (override()) do not pile up.
_facts: weakref.WeakKeyDictionary[TaskTemplate[Any], TaskCacheFacts] = weakref.WeakKeyDictionary()


def task_cache_facts(task: TaskTemplate[Any], spec: TaskSpec) -> TaskCacheFacts:
    facts = _facts.get(task)
    if facts is None:
        facts = _facts[task] = _compute(task, spec)
    return facts


def task_version(task: TaskTemplate[Any], spec: TaskSpec) -> str:
    """``ctx().version``: the task's cache version (computed once per task), or "" when uncached."""
    if not spec.cache.is_enabled():
        return ""
    return task_cache_facts(task, spec).version


def _compute(task: TaskTemplate[Any], spec: TaskSpec) -> TaskCacheFacts:
    cache = spec.cache
    version = cache.get_version(VersionParameters(func=getattr(task, "func", None), image=task.image))
    suffix = "\n".join(("", task.name, values.interface_hash(task), version)).encode()
    max_age = cache.max_age.total_seconds() if cache.max_age is not None else 0.0  # type: ignore[union-attr]
    return TaskCacheFacts(task.name, version, suffix, cache.get_ignored_inputs(), max_age, cache.serialize)


def cache_key(facts: TaskCacheFacts, record: ActionRecord) -> str:
    """The key of the action of ``record`` (a pure function of its inputs and its task)."""
    if facts.ignored:
        inputs_hash = values.cache_inputs_hash(record.inputs or b"", facts.ignored)
    else:
        # The hash of all inputs was computed when the call was made (it names the action).
        inputs_hash = record.inputs_hash or ""
    digest = hashlib.sha256(inputs_hash.encode() + facts.suffix).digest()
    return base64.b64encode(digest).decode()
