"""What an app's code asks of its runtime (``flyte.app.get_parameter``, ``flyte.app.ctx``)."""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass

# Set in the app's process (runtime/worker/app_code.py).
PARAMETERS_ENV = "ROOST_APP_PARAMETERS"
MODE_ENV = "_RUN_MODE"


@dataclass(frozen=True)
class AppContext:
    """Where the app runs: ``mode`` ("local" when served here), its project and domain."""

    mode: str = "local"
    project: str = ""
    domain: str = ""
    raw_data_path: str = ""


def ctx() -> AppContext:
    return AppContext(
        mode=os.environ.get(MODE_ENV, "local"),
        project=os.environ.get("FLYTE_INTERNAL_EXECUTION_PROJECT", ""),
        domain=os.environ.get("FLYTE_INTERNAL_EXECUTION_DOMAIN", ""),
        raw_data_path=os.environ.get("ROOST_RAW_DATA_PATH", ""),
    )


@functools.cache
def _parameters() -> dict[str, str]:
    path = os.environ.get(PARAMETERS_ENV)
    if not path:
        raise ValueError("no app parameters here: get_parameter works in the code of a served app")
    with open(path) as f:
        return json.load(f)  # type: ignore[no-any-return]


def get_parameter(name: str) -> str:
    """The value of the app's parameter ``name`` (text, or the local path of a downloaded file)."""
    parameters = _parameters()
    if name not in parameters:
        known = ", ".join(sorted(parameters)) or "none"
        raise KeyError(f"the app has no parameter {name!r} (it has {known})")
    return parameters[name]
