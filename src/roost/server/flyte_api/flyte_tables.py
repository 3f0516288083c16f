"""What the Flyte API keeps beyond a server's life -- deployed tasks, triggers, apps -- lives in tables of
one SQLite file (``ROOST_HOME/flyte/tasks.sqlite``); each table is one of these."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

from roost.server.table_files import open_table_file


class SqliteTable:
    """One table (``SCHEMA`` makes it), its connection shared by the server's threads under a lock."""

    SCHEMA = ""

    def __init__(self, path: Path):
        self._db = open_table_file(path, self.SCHEMA)
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._db

    def close(self) -> None:
        with self._locked() as db:
            db.close()
