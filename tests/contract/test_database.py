"""The Database contract (package_broker/ports/database.py), for every server adapter."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from package_broker import migrations
from package_broker.errors import BackendError
from package_broker.runtimes.server.bootstrap import load_migrations
from package_broker.runtimes.server.postgres import PostgresDatabase, translate
from tests.conftest import free_port


async def test_values_round_trip_with_their_types(db: Any) -> None:
    await db.execute("CREATE TABLE t (a TEXT, b BIGINT, c REAL, d TEXT)")
    await db.execute("INSERT INTO t (a, b, c, d) VALUES (?, ?, ?, ?)", (None, 2**53 - 1, 0.25, "ünïcødé ✓"))
    assert await db.fetch_one("SELECT a, b, c, d FROM t") == {"a": None, "b": 2**53 - 1, "c": 0.25, "d": "ünïcødé ✓"}
    assert await db.fetch_one("SELECT a FROM t WHERE d = ?", ("nothing",)) is None
    assert await db.fetch_all("SELECT a FROM t WHERE d = ?", ("nothing",)) == []


async def test_execute_reports_rows_changed(db: Any) -> None:
    await db.execute("CREATE TABLE t (k TEXT PRIMARY KEY, n BIGINT)")
    await db.batch([("INSERT INTO t VALUES (?, ?)", (k, 0)) for k in "abc"])
    assert await db.execute("UPDATE t SET n = n + 1 WHERE k <> ?", ("a",)) == 2
    assert await db.execute("DELETE FROM t WHERE k = ?", ("zz",)) == 0


async def test_a_failing_batch_changes_nothing(db: Any) -> None:
    await db.execute("CREATE TABLE t (k TEXT PRIMARY KEY)")
    await db.execute("INSERT INTO t VALUES (?)", ("a",))
    with pytest.raises(BackendError):
        await db.batch([("INSERT INTO t VALUES (?)", ("b",)), ("INSERT INTO t VALUES (?)", ("a",))])
    assert [r["k"] for r in await db.fetch_all("SELECT k FROM t ORDER BY k")] == ["a"]


async def test_upserts_use_the_portable_on_conflict_form(db: Any) -> None:
    await db.execute("CREATE TABLE t (k TEXT PRIMARY KEY, n BIGINT NOT NULL)")
    upsert = "INSERT INTO t (k, n) VALUES (?, 1) ON CONFLICT (k) DO UPDATE SET n = t.n + 1"
    for _ in range(3):
        await db.execute(upsert, ("a",))
    assert await db.fetch_one("SELECT n FROM t") == {"n": 3}


async def test_the_real_migrations_apply_once_and_are_recorded(db: Any) -> None:
    files = load_migrations()
    assert await migrations.apply(db, files) == [m.name for m in files]
    assert await migrations.apply(db, files) == []
    assert await migrations.applied(db) == [m.name for m in files]


async def test_a_broken_migration_is_not_recorded(db: Any) -> None:
    broken = [migrations.Migration("0001_broken.sql", "CREATE TABLE ok (a TEXT);\nCREATE TABLE (oops;")]
    with pytest.raises(BackendError):
        await migrations.apply(db, broken)
    assert await migrations.applied(db) == []


async def test_question_marks_and_percent_signs_in_the_sql_text_are_not_placeholders(db: Any) -> None:
    await db.execute("CREATE TABLE t (k TEXT PRIMARY KEY, n BIGINT)")
    await db.execute("INSERT INTO t (k, n) VALUES ('what?', 7 % 4)")
    await db.execute("INSERT INTO t (k, n) VALUES (?, ?) -- a comment? 100%", ("100%", 1))
    rows = await db.fetch_all("SELECT k, n FROM t WHERE k LIKE '%?' OR k = ? ORDER BY k", ("100%",))
    assert rows == [{"k": "100%", "n": 1}, {"k": "what?", "n": 3}]


async def test_concurrent_writers_do_not_interleave_their_batches(db: Any) -> None:
    await db.execute("CREATE TABLE t (k TEXT PRIMARY KEY, n BIGINT NOT NULL)")
    await db.execute("INSERT INTO t VALUES (?, ?)", ("total", 0))

    async def transfer(i: int) -> None:
        await db.batch(
            [
                ("INSERT INTO t VALUES (?, ?)", (f"row{i}", i)),
                ("UPDATE t SET n = n + ? WHERE k = ?", (i, "total")),
            ]
        )

    await asyncio.gather(*(transfer(i) for i in range(1, 21)))
    total = await db.fetch_one("SELECT n FROM t WHERE k = ?", ("total",))
    assert total == {"n": sum(range(1, 21))}
    assert len(await db.fetch_all("SELECT k FROM t")) == 21


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
