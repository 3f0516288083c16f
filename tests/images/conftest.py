"""Image tests: one uv download cache for the session, and no memory of virtualenvs between tests
(each test sees what a fresh process would). ROOST_HOME comes from the root conftest."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from roost.images import local


@pytest.fixture(scope="session", autouse=True)
def uv_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """uv downloads a package once per session, then every virtualenv links it from here."""
    folder = tmp_path_factory.mktemp("uv-cache")
    before = os.environ.get("UV_CACHE_DIR")
    os.environ["UV_CACHE_DIR"] = str(folder)
    yield folder
    if before is None:
        os.environ.pop("UV_CACHE_DIR", None)
    else:
        os.environ["UV_CACHE_DIR"] = before


@pytest.fixture(autouse=True)
def roost_home(roost_home: Path) -> Iterator[Path]:
    local.forget()
    yield roost_home
    local.forget()


def _pypi_reachable() -> bool:
    try:
        socket.create_connection(("pypi.org", 443), timeout=5).close()
    except OSError:
        return False
    return True


# The tests that build real virtualenvs download one small package from PyPI (once per session).
needs_pypi = pytest.mark.skipif(not _pypi_reachable(), reason="PyPI is not reachable from this machine")
