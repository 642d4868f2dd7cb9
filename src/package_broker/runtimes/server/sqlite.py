"""SqliteDatabase: the embedded default database (a file under DATA_DIR), through aiosqlite's worker thread.

WAL mode lets `package-broker sync` (another process) write while the server reads; a busy timeout makes
writers wait for each other instead of failing. Foreign keys are on, as they are on D1.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import aiosqlite

from ...errors import BackendError
from ...ports.database import Params, Row
from .filesystem import space_problem


async def connect(path: str) -> aiosqlite.Connection:
    """aiosqlite.connect, but a failed open also waits for aiosqlite's thread to stop.

    (aiosqlite stops its thread without waiting; the thread then reports to this event loop, and if the loop
    has closed by then, as at the end of a one-shot CLI command, the thread dies with "Event loop is closed".)
    """
    pending = aiosqlite.connect(path, isolation_level=None)
    try:
        return await pending
    except BaseException:
        thread = getattr(pending, "_thread", None)
        if thread is not None and thread.is_alive():
            await asyncio.to_thread(thread.join, 5)
        raise


class SqliteDatabase:
    dialect = "sqlite"

    def __init__(self, connection: aiosqlite.Connection, path: str = ":memory:") -> None:
        self._db = connection
        self.path = path
        # One connection serves the whole process: statements of a batch must not interleave with others.
        self._write_lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str) -> SqliteDatabase:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            connection = await connect(path)
        except sqlite3.Error as exc:
            raise BackendError(f"cannot open the SQLite database at {path}: {exc}") from exc
        try:
            connection.row_factory = aiosqlite.Row
            for pragma in ("journal_mode = WAL", "busy_timeout = 10000", "foreign_keys = ON", "synchronous = NORMAL"):
                await connection.execute(f"PRAGMA {pragma}")
            # Read a page of the schema now: a corrupt file fails here, at start, not on some later request.
            # (The cursor is closed at once: an open SELECT would pin a read snapshot and later writes of this
            # connection would fail with "database is locked" instead of waiting.)
            async with connection.execute("SELECT COUNT(*) FROM sqlite_master") as cursor:
                await cursor.fetchone()
        except sqlite3.Error as exc:
            # Close it, or aiosqlite's (non-daemon) thread keeps the process alive after the error.
            await connection.close()
            raise BackendError(f"cannot open the SQLite database at {path}: {exc}") from exc
        return cls(connection, path)

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        # One call on aiosqlite's thread runs the statement to its end. (Stepping a cursor in several calls
        # would let another coroutine's BEGIN IMMEDIATE run while this statement holds a read snapshot; once
        # another process has written, SQLite refuses that upgrade at once with "database is locked",
        # without waiting busy_timeout.)
        try:
            return [dict(row) for row in await self._db.execute_fetchall(sql, tuple(params))]
        except sqlite3.Error as exc:
            raise BackendError(f"database query failed: {exc}") from exc

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        rows = await self.fetch_all(sql, params)
        return rows[0] if rows else None

    async def fetch_many(self, queries: Sequence[tuple[str, Params]]) -> list[list[Row]]:
        return [await self.fetch_all(sql, params) for sql, params in queries]

    async def execute(self, sql: str, params: Params = ()) -> int:
        # In its own BEGIN IMMEDIATE, like a batch: a lone write in autocommit mode reads first and then
        # upgrades to a write, and in WAL mode that upgrade fails at once ("database is locked", without
        # waiting busy_timeout) when another process wrote in between.
        async with self._write_lock:
            try:
                await self._db.execute("BEGIN IMMEDIATE")
                try:
                    async with self._db.execute(sql, tuple(params)) as cursor:
                        changed = cursor.rowcount
                    await self._db.execute("COMMIT")
                except BaseException:
                    await self._db.execute("ROLLBACK")
                    raise
                return changed
            except sqlite3.Error as exc:
                raise BackendError(f"database write failed: {exc}") from exc

    async def batch(self, statements: Sequence[tuple[str, Params]]) -> None:
        async with self._write_lock:
            try:
                await self._db.execute("BEGIN IMMEDIATE")
                try:
                    for sql, params in statements:
                        await self._db.execute(sql, tuple(params))
                    await self._db.execute("COMMIT")
                except BaseException:
                    await self._db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise BackendError(f"database write failed: {exc}") from exc

    async def execute_script(self, sql: str) -> None:
        async with self._write_lock:
            try:
                await self._db.executescript(f"BEGIN IMMEDIATE;\n{sql}\nCOMMIT;")
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    await self._db.execute("ROLLBACK")
                raise BackendError(f"migration failed: {exc}") from exc

    async def problem(self) -> str | None:
        """Why writes would fail right now (the database's directory full or read-only), or None. For /health."""
        if self.path == ":memory:":
            return None
        return await asyncio.to_thread(space_problem, Path(self.path).resolve().parent)

    async def close(self) -> None:
        try:
            await self._db.close()
        except ValueError:  # already closed
            pass
