"""What ``flyte.init()`` set for this process: the defaults runs take (org, project, domain, the Ray
cluster) and what ``current_project()`` / ``current_domain()`` answer outside a task.

``init`` (``initialize.py``) writes them; the runner and ``initialize`` read them here, so neither
imports the other.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

RAY_ADDRESS_ENV = "RAY_ADDRESS"


@dataclass(frozen=True)
class InitSettings:
    """One call of ``init()``, as given (``initialized`` is False until the first)."""

    initialized: bool = False
    org: str | None = None
    project: str | None = None
    domain: str | None = None
    root_dir: str | Path | None = None
    images: dict[str, str] = field(default_factory=dict)
    ray_address: str | None = None
    # A roost server (``init(endpoint=...)``): runs default to mode="remote" there, and flyte.remote
    # reads from it. The key is never shown (repr) nor written anywhere.
    endpoint: str | None = None
    api_key: str | None = field(default=None, repr=False)
    insecure: bool | None = None


_current = InitSettings()


def current() -> InitSettings:
    return _current


def set_current(settings: InitSettings) -> None:
    """What the latest ``init()`` set; it replaces what an earlier one did."""
    global _current
    _current = settings


def is_initialized() -> bool:
    return _current.initialized


def ray_address() -> str | None:
    """The Ray cluster runs may use: ``init(ray_address=...)``, else ``$RAY_ADDRESS``."""
    return _current.ray_address or os.environ.get(RAY_ADDRESS_ENV) or None
