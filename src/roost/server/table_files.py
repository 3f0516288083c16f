"""The SQLite files the server keeps its own tables in (apps, triggers, deployments, and the Flyte API's),
all opened one way."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def open_table_file(path: Path, schema: str, rows: bool = False) -> sqlite3.Connection:
    """A connection to ``path`` (its folder made, ``schema`` applied), for the server's threads to share
    under the table's own lock; autocommit, WAL so readers do not wait for a write. ``rows``: rows as
    ``sqlite3.Row``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(schema)
    if rows:
        conn.row_factory = sqlite3.Row
    return conn
