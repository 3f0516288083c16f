"""What the durable tests share."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def recover(folder: Path, home: Path, module: str, name: str, **env: str) -> str:
    """``rerun(name, recover=True)`` in a process of its own (its workers import ``module`` from
    ``folder`` as the first run's did); the recovered run's name."""
    code = (
        f"import sys; sys.path.insert(0, {str(folder)!r}); import {module}; import roost as flyte; "
        f"print(flyte.with_runcontext().rerun({name!r}, recover=True).name)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=folder, env={**os.environ, "ROOST_HOME": str(home), **env},
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.split()[-1]
