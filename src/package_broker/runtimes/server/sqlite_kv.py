"""SqliteKVStore: the embedded default key/value store, a SQLite file shared by every local process.

Look-ups are primary-key reads of a few kilobytes that take microseconds, so they run directly on the event
loop: cheaper than a hop to a worker thread, and the reason a warm request stays fast. Because it is a file,
`package-broker sync` and `token revoke` (other processes) reach the same cache as the running server.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from ...errors import BackendError
from ...ports.kv import MIN_TTL

_SCHEMA = """CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL,
    metadata TEXT,
    expires_at REAL
)"""
_PURGE_EVERY = 1000


class SqliteKVStore:
    def __init__(self, path: str) -> None:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA busy_timeout = 5000")
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.execute(_SCHEMA)
        except sqlite3.Error as exc:
            raise BackendError(f"cannot open the key/value file {path}: {exc}") from exc
        self._writes = 0

    def _row(self, key: str) -> tuple[bytes, str | None] | None:
        try:
            row = self._db.execute("SELECT value, metadata, expires_at FROM kv WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error as exc:
            raise BackendError(f"key/value read failed: {exc}") from exc
        if row is None or (row[2] is not None and row[2] <= time.time()):
            return None
        return bytes(row[0]), row[1]

    async def get(self, key: str) -> bytes | None:
        row = self._row(key)
        return row[0] if row else None

    async def get_with_metadata(self, key: str) -> tuple[bytes, dict[str, str]] | None:
        row = self._row(key)
        if row is None:
            return None
        return row[0], json.loads(row[1]) if row[1] else {}

    async def put(
        self, key: str, value: bytes, *, ttl: int | None = None, metadata: dict[str, str] | None = None
    ) -> None:
        expires = time.time() + max(ttl, MIN_TTL) if ttl is not None else None
        try:
            self._db.execute(
                "INSERT OR REPLACE INTO kv (key, value, metadata, expires_at) VALUES (?, ?, ?, ?)",
                (key, value, json.dumps(metadata) if metadata else None, expires),
            )
            self._writes += 1
            if self._writes % _PURGE_EVERY == 0:
                self._db.execute("DELETE FROM kv WHERE expires_at IS NOT NULL AND expires_at <= ?", (time.time(),))
        except sqlite3.Error as exc:
            raise BackendError(f"key/value write failed: {exc}") from exc

    async def delete(self, key: str) -> None:
        try:
            self._db.execute("DELETE FROM kv WHERE key = ?", (key,))
        except sqlite3.Error as exc:
            raise BackendError(f"key/value delete failed: {exc}") from exc

    async def aclose(self) -> None:
        self._db.close()
