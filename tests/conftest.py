"""Every test gets a ROOST_HOME of its own: no test reads or writes the user's ~/.roost, and each
starts with an empty run store. Folders that need more (an initialised store, an image cache)
override ``roost_home`` in their own conftest."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from roost.store import open_stores, store_config
from roost.store.run_store import RunStore


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--chaos", action="store_true", default=False, help="run the long fault-injection tests (tests/chaos)"
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "chaos: fault injection (kill -9); short by default, long with --chaos")


@pytest.fixture(autouse=True)
def roost_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "home"
    monkeypatch.setenv("ROOST_HOME", str(home))
    yield home
    store_config.reset()  # forget an init() made by the test
    open_stores.close_store(home / "roost.db")


@pytest.fixture
def store(roost_home: Path) -> RunStore:
    return open_stores.get_store()
