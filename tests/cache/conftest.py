"""Every cache test records into a store of its own, under a temporary ROOST_HOME."""

from __future__ import annotations

from pathlib import Path

import pytest

from roost.runtime import runner
from roost.store import config as store_config


@pytest.fixture(autouse=True)
def roost_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("ROOST_HOME", str(home))
    yield home
    store_config.reset()  # forget an init() made by the test
    store = runner._stores.pop(home / "roost.db", None)
    if store is not None:
        store.close()


@pytest.fixture
def store(roost_home: Path):
    return runner.get_store()
