"""The Database contract (package_broker/ports/database.py) on SQLite and PostgreSQL.

`test_contract` runs every runtime-neutral check of tests/contract/checks/database.py (D1 runs the same
ones in tests/worker/contract.test.mjs); the tests after it need PostgreSQL's internals or two connections.
"""

from __future__ import annotations

from typing import Any

import pytest

from package_broker import migrations
from package_broker.errors import BackendError
from package_broker.ports.database import Database
from package_broker.runtimes.server.bootstrap import load_migrations
from package_broker.runtimes.server.postgres import PostgresDatabase, translate
from tests.conftest import free_port
from tests.contract.checks import Check
from tests.contract.checks import database as checks


@pytest.mark.parametrize("check", checks.CHECKS, ids=lambda check: check.__name__)
async def test_contract(db: Database, check: Check[Database]) -> None:
    await check(db)


# -- PostgreSQL -------------------------------------------------------------------------------------


def test_portable_sql_is_translated_for_psycopg() -> None:
    assert translate("SELECT a FROM t WHERE b = ? AND c LIKE '%?%' ESCAPE '\\'") == (
        "SELECT a FROM t WHERE b = %s AND c LIKE '%%?%%' ESCAPE '\\'"
    )
    assert translate("SELECT 'it''s ?', \"odd?col\" -- why?\nFROM t /* ? */ WHERE x = ? % 2") == (
        "SELECT 'it''s ?', \"odd?col\" -- why?\nFROM t /* ? */ WHERE x = %s %% 2"
    )


async def test_an_unreachable_postgresql_is_one_clear_error_without_the_password() -> None:
    with pytest.raises(BackendError) as caught:
        await PostgresDatabase.open(f"postgresql://broker:hunter2-secret@127.0.0.1:{free_port()}/broker")
    message = str(caught.value)
    assert message.startswith("DB_URL: cannot connect to PostgreSQL at broker@127.0.0.1:") and "/broker" in message
    assert "hunter2" not in message and "\n" not in message


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
async def test_postgresql_errors_carry_no_row_values(db: Any) -> None:
    await db.execute("CREATE TABLE t (k TEXT PRIMARY KEY)")
    await db.execute("INSERT INTO t VALUES (?)", ("sha256-of-a-secret",))
    with pytest.raises(BackendError) as caught:
        await db.execute("INSERT INTO t VALUES (?)", ("sha256-of-a-secret",))
    assert "duplicate key" in str(caught.value) and "sha256-of-a-secret" not in str(caught.value)


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
async def test_postgresql_migrations_use_the_ledger_wrangler_uses(db: Any) -> None:
    await migrations.apply(db, load_migrations())
    ledger = await db.fetch_all("SELECT id, name, applied_at FROM d1_migrations ORDER BY id")
    assert [row["name"] for row in ledger] == [m.name for m in load_migrations()]
    assert all(row["applied_at"] is not None for row in ledger)


async def test_replicas_migrating_at_the_same_time_both_start(db_pair: Any) -> None:
    import asyncio

    first, second = db_pair
    files = load_migrations()
    results = await asyncio.gather(migrations.apply(first, files), migrations.apply(second, files))
    assert sorted(results[0] + results[1]) == sorted(m.name for m in files)
    assert await migrations.applied(first) == [m.name for m in files]
