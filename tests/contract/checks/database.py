"""The Database contract (package_broker/ports/database.py): portable SQL behaves the same on every adapter.

Run on SQLite and PostgreSQL by tests/contract/test_database.py, on D1 by tests/worker/contract.test.mjs.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from package_broker import migrations
from package_broker.errors import BackendError
from package_broker.ports.database import Database

from . import Check, raises

#: The package's migrations (the server finds the same ones through bootstrap.load_migrations,
#: a server-only module this one cannot import).
MIGRATIONS_DIR = Path(__file__).resolve().parents[3] / "src/package_broker/schema"


def project_migrations() -> list[migrations.Migration]:
    files = sorted(MIGRATIONS_DIR.glob("*.sql"))
    assert files, f"no migrations found in {MIGRATIONS_DIR}"
    return [migrations.Migration(path.name, path.read_text()) for path in files]


async def values_round_trip_with_their_types(db: Database) -> None:
    """NULL, integers up to 2**53 either side of zero, floats and unicode come back equal and typed."""
    await db.execute("CREATE TABLE t (a TEXT, b BIGINT, c BIGINT, d REAL, e TEXT)")
    values = (None, 2**53 - 1, -(2**53 - 1), 0.25, "ünïcødé ✓")
    await db.execute("INSERT INTO t (a, b, c, d, e) VALUES (?, ?, ?, ?, ?)", values)
    row = await db.fetch_one("SELECT a, b, c, d, e FROM t")
    assert row == dict(zip("abcde", values, strict=True))
    # An int that came back as 9007199254740991.0 would compare equal: check the types too.
    assert [type(v) for v in row.values()] == [type(None), int, int, float, str]
    assert await db.fetch_one("SELECT a FROM t WHERE e = ?", ("nothing",)) is None
    assert await db.fetch_all("SELECT a FROM t WHERE e = ?", ("nothing",)) == []


async def execute_reports_rows_changed(db: Database) -> None:
    await db.execute("CREATE TABLE t (k TEXT PRIMARY KEY, n BIGINT)")
    await db.batch([("INSERT INTO t VALUES (?, ?)", (k, 0)) for k in "abc"])
    assert await db.execute("UPDATE t SET n = n + 1 WHERE k <> ?", ("a",)) == 2
    assert await db.execute("DELETE FROM t WHERE k = ?", ("zz",)) == 0


async def a_failing_batch_changes_nothing(db: Database) -> None:
    await db.execute("CREATE TABLE t (k TEXT PRIMARY KEY)")
    await db.execute("INSERT INTO t VALUES (?)", ("a",))
    await raises(BackendError, db.batch([("INSERT INTO t VALUES (?)", ("b",)), ("INSERT INTO t VALUES (?)", ("a",))]))
    assert [r["k"] for r in await db.fetch_all("SELECT k FROM t ORDER BY k")] == ["a"]


async def an_empty_batch_does_nothing(db: Database) -> None:
    """Callers may build a batch from an empty list (D1 itself refuses an empty batch)."""
    await db.batch([])


async def fetch_many_returns_each_querys_rows_in_order(db: Database) -> None:
    """Several queries, one call (one round trip on D1): rows per query, empty results included."""
    await db.execute("CREATE TABLE t (k TEXT PRIMARY KEY, n BIGINT)")
    await db.batch([("INSERT INTO t VALUES (?, ?)", (k, i)) for i, k in enumerate("abc")])
    results = await db.fetch_many(
        [
            ("SELECT k FROM t WHERE n >= ? ORDER BY k", (1,)),
            ("SELECT n FROM t WHERE k = ?", ("zz",)),
            ("SELECT COUNT(*) AS c FROM t", ()),
        ]
    )
    assert results == [[{"k": "b"}, {"k": "c"}], [], [{"c": 3}]]
    assert await db.fetch_many([]) == []
    await raises(BackendError, db.fetch_many([("SELECT nope FROM t", ())]))


async def driver_errors_are_backend_errors_without_row_values(db: Database) -> None:
    """Every method raises BackendError for a driver error; the message may be logged, so no bound values."""
    await db.execute("CREATE TABLE t (k TEXT PRIMARY KEY)")
    await db.execute("INSERT INTO t VALUES (?)", ("sha256-of-a-secret",))
    duplicate = await raises(BackendError, db.execute("INSERT INTO t VALUES (?)", ("sha256-of-a-secret",)))
    assert "sha256-of-a-secret" not in str(duplicate), str(duplicate)
    await raises(BackendError, db.fetch_all("SELECT k FROM missing_table WHERE k = ?", ("x",)))
    await raises(BackendError, db.fetch_one("SELECT k FROM missing_table WHERE k = ?", ("x",)))


async def upserts_use_the_portable_on_conflict_form(db: Database) -> None:
    await db.execute("CREATE TABLE t (k TEXT PRIMARY KEY, n BIGINT NOT NULL)")
    upsert = "INSERT INTO t (k, n) VALUES (?, 1) ON CONFLICT (k) DO UPDATE SET n = t.n + 1"
    for _ in range(3):
        await db.execute(upsert, ("a",))
    assert await db.fetch_one("SELECT n FROM t") == {"n": 3}


async def question_marks_and_percent_signs_in_the_sql_text_are_not_placeholders(db: Database) -> None:
    await db.execute("CREATE TABLE t (k TEXT PRIMARY KEY, n BIGINT)")
    await db.execute("INSERT INTO t (k, n) VALUES ('what?', 7 % 4)")
    await db.execute("INSERT INTO t (k, n) VALUES (?, ?) -- a comment? 100%", ("100%", 1))
    rows = await db.fetch_all("SELECT k, n FROM t WHERE k LIKE '%?' OR k = ? ORDER BY k", ("100%",))
    assert rows == [{"k": "100%", "n": 1}, {"k": "what?", "n": 3}]


async def concurrent_writers_do_not_interleave_their_batches(db: Database) -> None:
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


async def the_real_migrations_apply_once_and_are_recorded(db: Database) -> None:
    files = project_migrations()
    assert await migrations.apply(db, files) == [m.name for m in files]
    assert await migrations.apply(db, files) == []
    assert await migrations.applied(db) == [m.name for m in files]


async def a_broken_migration_is_not_recorded(db: Database) -> None:
    broken = [migrations.Migration("0001_broken.sql", "CREATE TABLE ok (a TEXT);\nCREATE TABLE (oops;")]
    await raises(BackendError, migrations.apply(db, broken))
    assert await migrations.applied(db) == []


async def closing_twice_is_harmless(db: Database) -> None:
    await db.close()
    await db.close()


CHECKS: list[Check[Database]] = [
    values_round_trip_with_their_types,
    execute_reports_rows_changed,
    a_failing_batch_changes_nothing,
    an_empty_batch_does_nothing,
    fetch_many_returns_each_querys_rows_in_order,
    driver_errors_are_backend_errors_without_row_values,
    upserts_use_the_portable_on_conflict_form,
    question_marks_and_percent_signs_in_the_sql_text_are_not_placeholders,
    concurrent_writers_do_not_interleave_their_batches,
    the_real_migrations_apply_once_and_are_recorded,
    a_broken_migration_is_not_recorded,
    closing_twice_is_harmless,
]
