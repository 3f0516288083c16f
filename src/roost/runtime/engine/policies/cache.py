"""Cache: answer an action with a stored result of the same task, version and inputs; store new ones.

Lookup happens for ``behavior="auto"`` and ``"override"`` alike. Flyte's local mode looks up only
for ``auto`` (``override`` entries are written but never read); roost follows the platform, where an
explicit version is a cache like any other. Run options: ``overwrite_cache`` runs the task and
replaces the entry without looking up; ``disable_run_cache`` does neither (the controller then
leaves this policy out of the pipeline). ``max_age`` makes older entries misses, and the new result
replaces them. Only successes are stored: a failure raises before anything is written.
"""

from __future__ import annotations

import os
import time
from typing import Any

from roost.runtime.engine.actions import ActionRun
from roost.runtime.engine.cache_key import TaskCacheFacts, cache_key, task_cache_facts
from roost.runtime.engine.policies import Next
from roost.runtime.engine.reservations import HOST, Hold, reserve_or_wait
from roost.store.cache_store import CacheStore
from roost.store.records import ActionPhase, CacheEntry


class Cache:
    """The cache policy of one run; in the pipeline only of tasks whose cache is enabled."""

    def __init__(self, store: CacheStore, overwrite: bool = False):
        self._store = store
        self._overwrite = overwrite  # the run's overwrite_cache

    async def __call__(self, action: ActionRun, call_next: Next) -> Any:
        facts = task_cache_facts(action.task, action.spec)
        key = cache_key(facts, action.record)
        overwrite = self._overwrite
        now = time.time()
        # The oldest result that may answer this call: with overwrite_cache only one produced while
        # this action waited for a serialized twin; with max_age one younger than that.
        not_before = now if overwrite else (now - facts.max_age if facts.max_age else 0.0)
        if not overwrite:
            found = self._store.get(key)
            if found is not None and found[1] >= not_before:
                return self._answer(action, found[0])
        if facts.serialize:
            return await self._serialized(action, facts, key, not_before, call_next)
        value = await call_next(action)
        self._store.put(self._entry(action, facts, key))
        return value

    async def _serialized(
        self, action: ActionRun, facts: TaskCacheFacts, key: str, not_before: float, call_next: Next
    ) -> Any:
        def lookup() -> bytes | None:
            found = self._store.get(key)
            return found[0] if found is not None and found[1] >= not_before else None

        holder = f"{HOST}:{os.getpid()}:{action.record.run_name}/{action.id}"
        got = await reserve_or_wait(self._store, key, holder, lookup)
        if not isinstance(got, Hold):
            return self._answer(action, got)
        entry = None
        try:
            value = await call_next(action)
            entry = self._entry(action, facts, key)
            return value
        finally:
            got.end(entry)

    @staticmethod
    def _answer(action: ActionRun, outputs: bytes) -> Any:
        """Finish ``action`` with stored outputs, without running its task."""
        record = action.record
        record.outputs = outputs
        record.cache_hit = True
        record.started_at = time.time()
        action.recorder.finish(action, ActionPhase.SUCCEEDED)
        return action.recorder.output_value(action)

    @staticmethod
    def _entry(action: ActionRun, facts: TaskCacheFacts, key: str) -> CacheEntry:
        record = action.record
        assert record.outputs is not None, "a succeeded action has outputs"
        return CacheEntry(
            key, facts.task_name, facts.version, record.outputs, time.time(), record.run_name, record.action_id
        )
