"""D1Database: the Database port over a D1 binding.

Statements are prepared and bound (`?` placeholders as everywhere in the core); `batch` uses D1's own
`batch()`, which runs the statements in one transaction (and `fetch_many` uses it to send several
queries in one round trip). Rows cross the boundary as JSON, which keeps `null` as None and whole numbers as int.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pyodide.ffi import JsException, JsProxy

from ...ports.database import Params, Row
from .ffi import failure, from_js_json, js_array, js_value


def split_statements(script: str) -> list[str]:
    """Split a migration file into statements (our migrations keep `;` out of literals and comments)."""
    without_comments = re.sub(r"--[^\n]*", "", script)
    return [statement.strip() for statement in without_comments.split(";") if statement.strip()]


class D1Database:
    dialect = "sqlite"

    def __init__(self, binding: JsProxy) -> None:
        self._db = binding

    def _prepare(self, sql: str, params: Params) -> Any:
        statement = self._db.prepare(sql)
        return statement.bind(*[js_value(p) for p in params]) if params else statement

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        try:
            result = await self._prepare(sql, params).all()
        except JsException as exc:
            raise failure("D1 query failed", exc) from exc
        rows: list[Row] = from_js_json(result.results) or []
        return rows

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        rows = await self.fetch_all(sql, params)
        return rows[0] if rows else None

    async def fetch_many(self, queries: Sequence[tuple[str, Params]]) -> list[list[Row]]:
        if not queries:
            return []
        try:
            results = await self._db.batch(js_array([self._prepare(sql, params) for sql, params in queries]))
        except JsException as exc:
            raise failure("D1 query failed", exc) from exc
        return [from_js_json(result.results) or [] for result in results]

    async def execute(self, sql: str, params: Params = ()) -> int:
        try:
            result = await self._prepare(sql, params).run()
        except JsException as exc:
            raise failure("D1 write failed", exc) from exc
        return int(result.meta.changes or 0)

    async def batch(self, statements: Sequence[tuple[str, Params]]) -> None:
        if not statements:
            return
        try:
            await self._db.batch(js_array([self._prepare(sql, params) for sql, params in statements]))
        except JsException as exc:
            raise failure("D1 batch failed", exc) from exc

    async def execute_script(self, sql: str) -> None:
        await self.batch([(statement, ()) for statement in split_statements(sql)])

    async def close(self) -> None:
        """Bindings need no closing."""


if TYPE_CHECKING:
    from ...ports.database import Database

    def _implements_port(binding: JsProxy) -> None:
        """Never called: mypy checks here that D1Database implements the Database port."""
        _: Database = D1Database(binding)
