"""The Database contract (package_broker/ports/database.py), for every server adapter."""

from __future__ import annotations

from typing import Any

import pytest

from package_broker import migrations
from package_broker.errors import BackendError
from package_broker.runtimes.server.bootstrap import load_migrations


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
