"""SqliteKVStore: the embedded default key/value store, a SQLite file shared by every local process.

Because it is a file, `package-broker sync` and `token revoke` (other processes) reach the same cache as
the running server. Every call runs on aiosqlite's thread, never on the event loop: another process
holding the file's write lock must not stall every request of this one (a warm request does not reach
this store at all; see package_broker.cache).

It is only a cache (nothing in it is the only copy of anything), so a file that turns out to be corrupt
is moved aside and started afresh, with one warning, instead of failing every request until someone
deletes it by hand.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import aiosqlite

from ...errors import BackendError
from ...ports.kv import MIN_TTL
from .sqlite import connect

_SCHEMA = """CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL,
    metadata TEXT,
    expires_at REAL
)"""
_PURGE_EVERY = 1000
#: What SQLite says about a file that is not (or no longer) a database.
_CORRUPT = ("malformed", "not a database", "file is encrypted", "disk image")
T = TypeVar("T")
log = logging.getLogger("package_broker.cache")


def _is_corrupt(exc: sqlite3.Error) -> bool:
    return isinstance(exc, sqlite3.DatabaseError) and any(word in str(exc) for word in _CORRUPT)


class SqliteKVStore:
    def __init__(self, path: str) -> None:
        self.path = path
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self._writes = 0

    @classmethod
    async def open(cls, path: str) -> SqliteKVStore:
        store = cls(path)
        await store._connection()
        return store

    async def _connect(self) -> aiosqlite.Connection:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        db = await connect(self.path)
        try:
            for pragma in ("journal_mode = WAL", "busy_timeout = 5000", "synchronous = NORMAL"):
                await db.execute(f"PRAGMA {pragma}")
            await db.execute(_SCHEMA)
            async with db.execute("SELECT COUNT(*) FROM kv WHERE key = ''") as cursor:  # corrupt files fail here
                await cursor.fetchone()
        except BaseException:
            await db.close()
            raise
        if self.path != ":memory:":
            os.chmod(self.path, 0o600)
        return db

    async def _connection(self) -> aiosqlite.Connection:
        if self._db is None:
            async with self._lock:
                if self._db is None:
                    try:
                        self._db = await self._connect()
                    except sqlite3.Error as exc:
                        if not _is_corrupt(exc):
                            raise BackendError(f"cannot open the key/value file {self.path}: {exc}") from exc
                        await self._start_afresh(exc)
        assert self._db is not None
        return self._db

    async def _start_afresh(self, exc: sqlite3.Error) -> None:
        """Move a corrupt cache file aside and open a new one (the cache is rebuilt as requests come)."""
        log.warning("the key/value cache %s is corrupt (%s): moved aside and started afresh", self.path, exc)
        if self._db is not None:
            await self._db.close()
            self._db = None
        stamp = time.strftime("%Y%m%d%H%M%S")
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(self.path + suffix):
                os.replace(self.path + suffix, f"{self.path}.corrupt-{stamp}{suffix}")
        try:
            self._db = await self._connect()
        except sqlite3.Error as again:
            raise BackendError(f"cannot recreate the key/value file {self.path}: {again}") from again

    async def _call(self, what: str, work: Callable[[aiosqlite.Connection], Awaitable[T]]) -> T:
        db = await self._connection()
        try:
            return await work(db)
        except sqlite3.Error as exc:
            if _is_corrupt(exc) and self.path != ":memory:":
                async with self._lock:
                    if self._db is db:
                        await self._start_afresh(exc)
            raise BackendError(f"key/value {what} failed: {exc}") from exc

    async def _row(self, key: str) -> tuple[bytes, str | None] | None:
        async def read(db: aiosqlite.Connection) -> tuple[bytes, str | None] | None:
            # One call on aiosqlite's thread (see SqliteDatabase.fetch_all for why).
            rows = list(await db.execute_fetchall("SELECT value, metadata, expires_at FROM kv WHERE key = ?", (key,)))
            row = rows[0] if rows else None
            if row is None or (row[2] is not None and row[2] <= time.time()):
                return None
            return bytes(row[0]), row[1]

        return await self._call("read", read)

    async def get(self, key: str) -> bytes | None:
        row = await self._row(key)
        return row[0] if row else None

    async def get_with_metadata(self, key: str) -> tuple[bytes, dict[str, str]] | None:
        row = await self._row(key)
        if row is None:
            return None
        return row[0], json.loads(row[1]) if row[1] else {}

    async def put(
        self, key: str, value: bytes, *, ttl: int | None = None, metadata: dict[str, str] | None = None
    ) -> None:
        expires = time.time() + max(ttl, MIN_TTL) if ttl is not None else None

        async def write(db: aiosqlite.Connection) -> None:
            await db.execute(
                "INSERT OR REPLACE INTO kv (key, value, metadata, expires_at) VALUES (?, ?, ?, ?)",
                (key, value, json.dumps(metadata) if metadata else None, expires),
            )
            self._writes += 1
            if self._writes % _PURGE_EVERY == 0:
                await db.execute("DELETE FROM kv WHERE expires_at IS NOT NULL AND expires_at <= ?", (time.time(),))

        await self._call("write", write)

    async def delete(self, key: str) -> None:
        async def remove(db: aiosqlite.Connection) -> None:
            await db.execute("DELETE FROM kv WHERE key = ?", (key,))

        await self._call("delete", remove)

    async def aclose(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None
