"""PostgresDatabase: the metadata database on PostgreSQL, for several server replicas sharing one database.

SQLite is one file on one machine; PostgreSQL lets any number of server processes on any number of hosts
serve the same catalog. It runs the core's portable SQL unchanged: `?` placeholders become psycopg's `%s`
(literal `%` doubled) and the migrations apply as they are, each file in one transaction (PostgreSQL's DDL
is transactional). Connections come from a `psycopg_pool.AsyncConnectionPool` in autocommit mode; batches
and migrations open an explicit transaction on one connection.

Error messages carry PostgreSQL's primary message only (never DETAIL lines with row values), and never
the connection URL: it may hold a password.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from urllib.parse import unquote, urlsplit

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from ...errors import BackendError
from ...ports.database import Params, Row

#: Connections per process; several workers and replicas multiply it, mind `max_connections`.
POOL_MAX_SIZE = 10
CONNECT_TIMEOUT = 10


def translate(sql: str) -> str:
    """Turn portable SQL (`?` placeholders) into psycopg's format: `?` -> `%s`, `%` -> `%%`.

    A `?` inside a string literal, a quoted identifier or a comment is left alone; every `%` is doubled,
    because psycopg reads the whole statement (literals included) for its placeholders.
    """
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        char = sql[i]
        if char in ("'", '"'):
            end = i + 1
            while end < n:
                if sql[end] == char:
                    if end + 1 < n and sql[end + 1] == char:  # '' or "" escapes the quote
                        end += 2
                        continue
                    break
                end += 1
            out.append(sql[i : end + 1].replace("%", "%%"))
            i = end + 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end < 0 else end
            out.append(sql[i:end].replace("%", "%%"))
            i = end
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            end = n if end < 0 else end + 2
            out.append(sql[i:end].replace("%", "%%"))
            i = end
        elif char == "?":
            out.append("%s")
            i += 1
        elif char == "%":
            out.append("%%")
            i += 1
        else:
            out.append(char)
            i += 1
    return "".join(out)


@functools.lru_cache(maxsize=1024)
def _query(sql: str) -> bytes:
    """`translate`, encoded and remembered: the core sends the same few dozen statements over and over."""
    return translate(sql).encode()


def describe_target(url: str) -> str:
    """`user@host:port/dbname` for messages: the URL without its password or query."""
    parts = urlsplit(url)
    user = unquote(parts.username) + "@" if parts.username else ""
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    host = parts.hostname or "localhost"
    return f"{user}{host}{port}{parts.path or '/'}"


def _message(exc: BaseException, password: str | None = None) -> str:
    """The first line of a driver error (PostgreSQL's primary message), with any password blanked out."""
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    text = primary or (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if password:
        text = text.replace(password, "***")
    return text


class PostgresDatabase:
    dialect = "postgresql"

    def __init__(self, pool: AsyncConnectionPool[psycopg.AsyncConnection[Row]]) -> None:
        self._pool = pool
        self._closed = False

    @classmethod
    async def open(cls, url: str, *, max_size: int = POOL_MAX_SIZE) -> PostgresDatabase:
        """Connect to `url` (`postgresql://user:password@host:port/dbname`) and return a pooled database.

        Raises BackendError naming the host and database (never the password) when it cannot connect.
        """
        password = urlsplit(url).password
        target = describe_target(url)
        try:
            # One direct connection first: it fails fast with libpq's reason, where a pool would only time out.
            probe = await psycopg.AsyncConnection.connect(url, connect_timeout=CONNECT_TIMEOUT)
            await probe.close()
        except psycopg.Error as exc:
            raise BackendError(f"DB_URL: cannot connect to PostgreSQL at {target}: {_message(exc, password)}") from exc
        pool: AsyncConnectionPool[psycopg.AsyncConnection[Row]] = AsyncConnectionPool(
            url,
            min_size=1,
            max_size=max_size,
            kwargs={"autocommit": True, "row_factory": dict_row, "connect_timeout": CONNECT_TIMEOUT},
            check=AsyncConnectionPool.check_connection,
            open=False,
            name="package-broker",
        )
        try:
            await pool.open(wait=True, timeout=CONNECT_TIMEOUT)
        except (PoolTimeout, psycopg.Error) as exc:
            await pool.close()
            raise BackendError(f"DB_URL: cannot connect to PostgreSQL at {target}: {_message(exc, password)}") from exc
        return cls(pool)

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        try:
            async with self._pool.connection() as conn:
                cursor = await conn.execute(_query(sql), tuple(params))
                rows: list[Row] = await cursor.fetchall()
                return rows
        except (psycopg.Error, PoolTimeout) as exc:
            raise BackendError(f"database query failed: {_message(exc)}") from exc

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        try:
            async with self._pool.connection() as conn:
                cursor = await conn.execute(_query(sql), tuple(params))
                row: Row | None = await cursor.fetchone()
                return row
        except (psycopg.Error, PoolTimeout) as exc:
            raise BackendError(f"database query failed: {_message(exc)}") from exc

    async def fetch_many(self, queries: Sequence[tuple[str, Params]]) -> list[list[Row]]:
        return [await self.fetch_all(sql, params) for sql, params in queries]

    async def execute(self, sql: str, params: Params = ()) -> int:
        try:
            async with self._pool.connection() as conn:
                cursor = await conn.execute(_query(sql), tuple(params))
                return cursor.rowcount
        except (psycopg.Error, PoolTimeout) as exc:
            raise BackendError(f"database write failed: {_message(exc)}") from exc

    async def batch(self, statements: Sequence[tuple[str, Params]]) -> None:
        try:
            async with self._pool.connection() as conn, conn.transaction():
                for sql, params in statements:
                    await conn.execute(_query(sql), tuple(params))
        except (psycopg.Error, PoolTimeout) as exc:
            raise BackendError(f"database write failed: {_message(exc)}") from exc

    async def execute_script(self, sql: str) -> None:
        try:
            async with self._pool.connection() as conn, conn.transaction():
                # No parameters: psycopg sends the text as one simple query, several statements allowed,
                # and leaves `?` and `%` alone.
                await conn.execute(sql.encode())
        except (psycopg.Error, PoolTimeout) as exc:
            raise BackendError(f"migration failed: {_message(exc)}") from exc

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            await self._pool.close()
