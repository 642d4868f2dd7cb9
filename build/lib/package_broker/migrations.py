"""Schema migrations, recorded in the same ledger `wrangler d1 migrations apply` uses (`d1_migrations`).

So a database migrated by wrangler and one migrated by `package-broker migrate` agree on what has been
applied, and a file is never run twice. Files are applied in name order (`0001_initial.sql`, ...).
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import BackendError
from .ports import Database

LEDGER = "d1_migrations"

_LEDGER_DDL = {
    # The exact table wrangler creates on D1.
    "sqlite": f"""CREATE TABLE IF NOT EXISTS {LEDGER}(
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        name       TEXT UNIQUE,
        applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL
    )""",
    "postgresql": f"""CREATE TABLE IF NOT EXISTS {LEDGER}(
        id         SERIAL PRIMARY KEY,
        name       TEXT UNIQUE,
        applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL
    )""",
}


@dataclass(frozen=True, slots=True)
class Migration:
    name: str
    sql: str


async def applied(db: Database) -> list[str]:
    """Return the names of the migrations already recorded, oldest first."""
    try:
        await db.execute(_LEDGER_DDL[db.dialect])
    except BackendError:
        # Another process creating the ledger at the same moment (PostgreSQL can refuse the twin CREATE).
        await db.execute(_LEDGER_DDL[db.dialect])
    rows = await db.fetch_all(f"SELECT name FROM {LEDGER} ORDER BY id")
    return [str(row["name"]) for row in rows]


async def pending(db: Database, migrations: list[Migration]) -> list[Migration]:
    """Return the migrations that still have to run, in order."""
    done = set(await applied(db))
    return [m for m in sorted(migrations, key=lambda m: m.name) if m.name not in done]


async def apply(db: Database, migrations: list[Migration]) -> list[str]:
    """Apply every pending migration (each with its ledger row, atomically where the database allows).

    Returns the names applied, empty when the schema was already current.
    """
    names = []
    for migration in await pending(db, migrations):
        # The name comes from our own file list, never from a request; quote it anyway.
        quoted = migration.name.replace("'", "''")
        try:
            await db.execute_script(
                f"{migration.sql.rstrip().rstrip(';')};\nINSERT INTO {LEDGER} (name) VALUES ('{quoted}');"
            )
        except BackendError:
            # Replicas starting together race for the same migration: the loser's transaction fails.
            # If the winner recorded it, the schema is what we wanted; otherwise the error is real.
            if migration.name not in await applied(db):
                raise
            continue
        names.append(migration.name)
    return names
