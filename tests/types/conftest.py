from __future__ import annotations

import pytest

from roost.store import store_config as config


@pytest.fixture(autouse=True)
def roost_home(tmp_path, monkeypatch):
    """Every test gets its own ROOST_HOME, initialized, and leaves no configuration behind."""
    home = tmp_path / "roost-home"
    monkeypatch.setenv("ROOST_HOME", str(home))
    config.configure(home=home)
    yield home
    config.reset()


@pytest.fixture
def blobs_dir(roost_home):
    return roost_home / "blobs"
