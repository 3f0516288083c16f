"""Isolation tests: a machine capacity they choose (ROOST_HOME comes from the root conftest)."""

from __future__ import annotations

import pytest

from roost.runtime.engine import capacity
from roost.runtime.engine.policies import machine_admission as resources


@pytest.fixture
def machine(monkeypatch: pytest.MonkeyPatch):
    """Pretend the machine has the given capacity (``ROOST_CAPACITY`` syntax) for one test."""

    def set_capacity(text: str) -> resources.ResourceAdmission:
        monkeypatch.setenv(capacity.CAPACITY_ENV, text)
        capacity.detect.cache_clear()
        resources._MACHINE = None
        return resources.machine()

    yield set_capacity
    capacity.detect.cache_clear()
    resources._MACHINE = None
