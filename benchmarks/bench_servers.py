"""What the server benchmarks share: a real ``roost server`` process started over a store of its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def start_server(home: Path, *args: str) -> tuple[subprocess.Popen[bytes], str]:
    """``roost server start --port 0 ARGS`` for ``home``, once it answers: the process and its URL."""
    server = subprocess.Popen(
        [sys.executable, "-m", "roost.cli.main", "server", "start", "--port", "0", *args],
        env={**os.environ, "ROOST_HOME": str(home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(600):
        try:
            info = json.loads((home / "server" / "server.json").read_text())
            if info["pid"] == server.pid:
                urllib.request.urlopen(info["url"] + "/health", timeout=1).read()
                return server, info["url"]
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.05)
    server.kill()
    raise RuntimeError("the server did not start")
