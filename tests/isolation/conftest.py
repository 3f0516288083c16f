"""Isolation tests: a ROOST_HOME of their own, and a machine capacity they choose."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from roost.runtime import capacity, runner
from roost.runtime.policies import resources
from roost.store import config as store_config


@pytest.fixture(autouse=True)
def roost_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "home"
    monkeypatch.setenv("ROOST_HOME", str(home))
    yield home
    store_config.reset()
    store = runner._stores.pop(home / "roost.db", None)
    if store is not None:
        store.close()


@pytest.fixture
def store(roost_home: Path):
    return runner.get_store()


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
