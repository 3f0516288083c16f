"""The server's API keys: who may call it from beyond loopback.

A key is shown once, when it is created; the store keeps only its SHA-256, so the file (and any copy
of it) lets nobody in. A key is high-entropy random text, so a plain hash is enough: there is nothing
to guess that a slow hash would protect. Keys live in ``$ROOST_HOME/server/api_keys.sqlite`` (mode
0600), where ``roost server create-key`` writes them and a running server sees them within a second.

No key ever reaches an error message, a ``repr`` or a log line from this module: errors name keys by
their name, and listings show a hint of four characters.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

KEY_PREFIX = "roost_"
# Enough to tell keys apart in a listing, far too little to help guess one.
HINT_CHARS = 4
# last_used_at is for people ("is this key still in use?"): a write per request would cost more
# than the answer is worth.
LAST_USED_EVERY_S = 60.0
# How stale enabled() may be about keys created or revoked by another process (the CLI).
ENABLED_RECHECK_S = 1.0
BUSY_TIMEOUT_S = 5.0

_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_FILE_MODE = 0o600
_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    name TEXT PRIMARY KEY,
    key_sha256 TEXT NOT NULL UNIQUE,
    hint TEXT NOT NULL,
    created_at REAL NOT NULL,
    last_used_at REAL
)
"""


class ApiKeyError(ValueError):
    """A key operation refused: a bad or duplicate name, or an unknown one. The message is one line."""


@dataclass(frozen=True)
class ApiKeyInfo:
    """What may be shown about a key: never the key itself."""

    name: str
    created_at: float
    last_used_at: float | None
    hint: str


def keys_path(home: Path) -> Path:
    """Where the API keys of the roost home ``home`` are kept."""
    return home / "server" / "api_keys.sqlite"


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        shown = repr(name[:80]) if isinstance(name, str) else type(name).__name__
        raise ApiKeyError(f"API key name {shown} is not allowed: use 1 to 64 letters, digits, '_', '.' or '-'")


class ApiKeys:
    """The API keys in one SQLite file; safe to use from several threads (one connection, one lock).

    Nothing is created until the first key is: a home without keys stays as it was.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._enabled: bool | None = None
        self._enabled_at = 0.0

    def __repr__(self) -> str:
        return f"ApiKeys({str(self.path)!r})"

    def create(self, name: str) -> str:
        """Store a new key named ``name`` and return it: the only time it is ever available."""
        _check_name(name)
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        hint = key[len(KEY_PREFIX) : len(KEY_PREFIX) + HINT_CHARS] + "…"
        with self._lock:
            conn = self._connection(create=True)
            assert conn is not None
            try:
                conn.execute(
                    "INSERT INTO api_keys (name, key_sha256, hint, created_at) VALUES (?, ?, ?, ?)",
                    (name, _digest(key), hint, time.time()),
                )
            except sqlite3.IntegrityError:
                raise ApiKeyError(f"an API key named {name!r} already exists; revoke it first") from None
            self._enabled = None
        return key

    def verify(self, key: str | None) -> str | None:
        """The name of the key ``key``, or None when it is no (longer a) key."""
        if not isinstance(key, str) or not key.startswith(KEY_PREFIX):
            return None
        digest = _digest(key)
        with self._lock:
            conn = self._connection()
            if conn is None:
                return None
            row = conn.execute(
                "SELECT name, key_sha256, last_used_at FROM api_keys WHERE key_sha256 = ?", (digest,)
            ).fetchone()
            if row is None or not hmac.compare_digest(row[1], digest):
                return None
            name, last_used = row[0], row[2]
            now = time.time()
            if last_used is None or now - last_used >= LAST_USED_EVERY_S:
                try:
                    conn.execute("UPDATE api_keys SET last_used_at = ? WHERE name = ?", (now, name))
                except sqlite3.OperationalError:
                    pass  # bookkeeping: a busy or read-only file must not turn a valid key away
        return str(name)

    def list(self) -> list[ApiKeyInfo]:
        """Every key's name, hint and times, by name."""
        with self._lock:
            conn = self._connection()
            if conn is None:
                return []
            rows = conn.execute("SELECT name, created_at, last_used_at, hint FROM api_keys ORDER BY name").fetchall()
        return [ApiKeyInfo(*row) for row in rows]

    def revoke(self, name: str) -> None:
        """Delete the key named ``name``; requests with it are refused from now on."""
        with self._lock:
            conn = self._connection()
            deleted = conn is not None and conn.execute("DELETE FROM api_keys WHERE name = ?", (name,)).rowcount > 0
            self._enabled = None
        if not deleted:
            raise ApiKeyError(f"no API key named {name[:80]!r}")

    def enabled(self) -> bool:
        """Whether any key exists, i.e. whether the server must ask for one. Asked on every request,
        so the answer is kept for up to ``ENABLED_RECHECK_S``."""
        with self._lock:
            now = time.monotonic()
            if self._enabled is None or now - self._enabled_at >= ENABLED_RECHECK_S:
                conn = self._connection()
                self._enabled = (
                    conn is not None and conn.execute("SELECT 1 FROM api_keys LIMIT 1").fetchone() is not None
                )
                self._enabled_at = now
            return self._enabled

    def close(self) -> None:
        """Close the connection; a later call opens it again."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _connection(self, create: bool = False) -> sqlite3.Connection | None:
        """The open connection; None where there is no file yet and ``create`` is false."""
        if self._conn is not None:
            return self._conn
        if not self.path.exists():
            if not create:
                return None
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Created private before SQLite opens it; SQLite gives its -wal and -shm files the same mode.
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, _FILE_MODE)
            try:
                if os.name == "posix":
                    os.fchmod(fd, _FILE_MODE)
            finally:
                os.close(fd)
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(_SCHEMA)
        self._conn = conn
        return conn
