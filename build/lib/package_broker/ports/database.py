"""The metadata database port: D1 on Workers, SQLite or PostgreSQL on the server.

SQL handed to a Database is portable: `?` placeholders, `TEXT`/`BIGINT`/`INTEGER` columns, upserts written
as `INSERT ... ON CONFLICT (...) DO UPDATE/NOTHING`. Adapters translate placeholders if their driver needs
it and raise `BackendError` (chained) for driver errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

Row = dict[str, Any]
Params = Sequence[str | int | float | None]


class Database(Protocol):
    #: "sqlite" (SQLite and D1) or "postgresql"; only the migration ledger's DDL depends on it.
    dialect: str

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        """Run a query and return every row as a dict keyed by column name (empty list when none)."""
        ...

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        """Run a query and return its first row, or None when it returned nothing."""
        ...

    async def fetch_many(self, queries: Sequence[tuple[str, Params]]) -> list[list[Row]]:
        """Run several queries and return the rows of each, in order.

        On D1 this is one round trip (one subrequest) however many queries there are, which is what a
        Worker's per-invocation budget needs; the server adapters run them one after another.
        """
        ...

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement and return how many rows it changed."""
        ...

    async def batch(self, statements: Sequence[tuple[str, Params]]) -> None:
        """Run statements atomically, in order: all of them take effect or none does."""
        ...

    async def execute_script(self, sql: str) -> None:
        """Run a migration file: several `;`-separated statements, no parameters, no transaction control."""
        ...

    async def close(self) -> None:
        """Release connections. Calling it twice is harmless."""
        ...
