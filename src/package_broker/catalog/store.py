"""What the broker serves: packages, their versions and every dist archive ever published.

All SQL about packages lives here. A writer reads a package's `PackageState` (one round trip), decides,
and hands everything back to `write` (one transaction): the package row, its versions, new dist records,
anything the caller adds (what a sync saw), and a new cache generation when served content changed.
Last-Modified moves forward only when served content really changed, so Composer's If-Modified-Since
revalidation stays cheap (304) after a sync that found nothing new.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..cache import Cache, bump_statement
from ..errors import Conflict
from ..ports import Clock, Database
from ..ports.database import Params

NAMES_MODIFIED = "names_modified_at"
_DIST_COLUMNS = "package, reference, object_key, shasum, size, upstream_url"


@dataclass(frozen=True, slots=True)
class VersionRow:
    version_normalized: str
    version: str
    is_dev: bool
    reference: str
    #: The version object as JSON (dist URL relative to the broker).
    data: str
    released_at: int | None = None

    @classmethod
    def from_db(cls, row: dict[str, Any]) -> VersionRow:
        return cls(
            version_normalized=row["version_normalized"],
            version=row["version"],
            is_dev=bool(row["is_dev"]),
            reference=row["reference"],
            data=row["data"],
            released_at=row["released_at"],
        )


@dataclass(frozen=True, slots=True)
class PackageRow:
    name: str
    source_id: str
    tags_modified_at: int
    dev_modified_at: int


@dataclass(frozen=True, slots=True)
class DistRow:
    package: str
    reference: str
    object_key: str
    shasum: str
    size: int
    #: Where a mirrored archive was downloaded from (None for git archives and uploads).
    upstream_url: str | None = None


@dataclass(frozen=True, slots=True)
class PackageState:
    """What a writer needs to know about one package name before changing it, read in one round trip."""

    name: str
    #: None: no source serves this name yet.
    package: PackageRow | None
    versions: dict[str, VersionRow] = field(default_factory=dict)
    #: Every stored archive of this name, by reference.
    dists: dict[str, DistRow] = field(default_factory=dict)
    #: When the set of served names last changed (a new package moves it forward).
    names_modified_at: int = 0

    def dist_from(self, upstream_url: str) -> DistRow | None:
        """The archive already mirrored from `upstream_url`, if any."""
        return next((d for d in self.dists.values() if d.upstream_url == upstream_url), None)


def dist_key(package: str, reference: str) -> str:
    """Object store key of a dist archive. Names and references are validated, so the key is safe."""
    return f"dists/{package}/{reference}.zip"


def dist_path(package: str, reference: str) -> str:
    """Broker-relative URL of a dist archive; served documents prefix the public base URL."""
    return f"/dists/{package}/{reference}.zip"


class Catalog:
    def __init__(self, db: Database, clock: Clock, cache: Cache) -> None:
        self.db = db
        self.clock = clock
        self.cache = cache

    # -- reading -------------------------------------------------------------------------------

    async def package(self, name: str) -> PackageRow | None:
        row = await self.db.fetch_one(
            "SELECT name, source_id, tags_modified_at, dev_modified_at FROM packages WHERE name = ?", (name,)
        )
        return PackageRow(**row) if row else None

    async def package_of_source(self, source_id: str) -> str | None:
        """The (first) package name a source serves, if it serves any yet."""
        row = await self.db.fetch_one(
            "SELECT name FROM packages WHERE source_id = ? ORDER BY created_at LIMIT 1", (source_id,)
        )
        return str(row["name"]) if row else None

    async def versions(self, name: str) -> list[VersionRow]:
        rows = await self.db.fetch_all(
            "SELECT version_normalized, version, is_dev, reference, data, released_at FROM versions WHERE package = ?",
            (name,),
        )
        return [VersionRow.from_db(row) for row in rows]

    async def names(self) -> tuple[list[str], int]:
        """Return every package name (sorted) and when that set of names last changed."""
        rows = await self.db.fetch_all("SELECT name FROM packages ORDER BY name")
        return [row["name"] for row in rows], await self.state_int(NAMES_MODIFIED)

    async def search(self, query: str, limit: int = 50) -> list[dict[str, Any]]:
        # LIKE ignores ASCII case on SQLite/D1 but not on PostgreSQL: the database lower-cases both sides.
        like = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        return await self.db.fetch_all(
            "SELECT name, description FROM packages WHERE LOWER(name) LIKE LOWER(?) ESCAPE '\\' "
            "OR LOWER(description) LIKE LOWER(?) ESCAPE '\\' ORDER BY name LIMIT ?",
            (like, like, limit),
        )

    async def dist(self, package: str, reference: str) -> DistRow | None:
        row = await self.db.fetch_one(
            f"SELECT {_DIST_COLUMNS} FROM dists WHERE package = ? AND reference = ?",
            (package, reference),
        )
        return DistRow(**row) if row else None

    async def state_int(self, name: str) -> int:
        row = await self.db.fetch_one("SELECT value FROM broker_state WHERE name = ?", (name,))
        return int(row["value"]) if row else 0

    async def state(self, name: str) -> PackageState:
        """Read what `write` needs about a package name: its row, versions and archives (one round trip)."""
        package, versions, dists, names = await self.db.fetch_many(
            [
                ("SELECT name, source_id, tags_modified_at, dev_modified_at FROM packages WHERE name = ?", (name,)),
                (
                    "SELECT version_normalized, version, is_dev, reference, data, released_at FROM versions "
                    "WHERE package = ?",
                    (name,),
                ),
                (f"SELECT {_DIST_COLUMNS} FROM dists WHERE package = ?", (name,)),
                ("SELECT value FROM broker_state WHERE name = ?", (NAMES_MODIFIED,)),
            ]
        )
        return PackageState(
            name,
            PackageRow(**package[0]) if package else None,
            {row["version_normalized"]: VersionRow.from_db(row) for row in versions},
            {row["reference"]: DistRow(**row) for row in dists},
            int(names[0]["value"]) if names else 0,
        )

    # -- writing -------------------------------------------------------------------------------

    def _after(self, previous: int) -> int:
        """A new Last-Modified: now, but always later than the previous one (HTTP dates have 1 s steps)."""
        return max(self.clock.now(), previous + 1)

    async def write(
        self,
        state: PackageState,
        source_id: str,
        wanted: Sequence[VersionRow] = (),
        *,
        replace: bool = True,
        description: str | None = None,
        dists: Sequence[DistRow] = (),
        extra: Sequence[tuple[str, Params]] = (),
    ) -> bool:
        """Serve `wanted` as versions of `state.name` from `source_id`, in one transaction.

        `replace`: `wanted` is the complete set (others are removed); otherwise only added or replaced.
        `dists` are recorded (the first record of a reference wins) and `extra` statements run in the same
        transaction. Returns True if served content changed (then every cache learns it).

        Raises:
            Conflict: another source already serves this name.
        """
        package = state.package
        if package is not None and package.source_id != source_id:
            raise Conflict(f"{state.name} is already served from another source ({package.source_id})")
        now = self.clock.now()
        statements: list[tuple[str, Params]] = [_insert_dist(dist, now) for dist in dists]
        if package is None:
            package = PackageRow(state.name, source_id, now, now)
            statements += [
                (
                    "INSERT INTO packages (name, source_id, tags_modified_at, dev_modified_at, description, "
                    "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (state.name, source_id, now, now, description, now),
                ),
                state_statement(NAMES_MODIFIED, self._after(state.names_modified_at), now),
            ]
        wanted_by_key = {v.version_normalized: v for v in wanted}
        upserts = [v for k, v in wanted_by_key.items() if state.versions.get(k) != v]
        deletes = [v for k, v in state.versions.items() if replace and k not in wanted_by_key]
        changed = state.package is None or bool(upserts or deletes)
        if changed:
            statements += self._version_statements(package, upserts, deletes, description, now)
            statements.append(bump_statement(now))
        statements += extra
        if statements:
            await self.db.batch(statements)
        if changed:
            self.cache.forget()
        return changed

    def _version_statements(
        self,
        package: PackageRow,
        upserts: list[VersionRow],
        deletes: list[VersionRow],
        description: str | None,
        now: int,
    ) -> list[tuple[str, Params]]:
        touched = upserts + deletes
        tags_at = (
            self._after(package.tags_modified_at) if any(not v.is_dev for v in touched) else package.tags_modified_at
        )
        dev_at = self._after(package.dev_modified_at) if any(v.is_dev for v in touched) else package.dev_modified_at
        statements: list[tuple[str, Params]] = [
            (
                "INSERT INTO versions (package, version_normalized, version, is_dev, reference, data, released_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (package, version_normalized) DO UPDATE SET "
                "version = excluded.version, is_dev = excluded.is_dev, reference = excluded.reference, "
                "data = excluded.data, released_at = excluded.released_at, updated_at = excluded.updated_at",
                (package.name, v.version_normalized, v.version, int(v.is_dev), v.reference, v.data, v.released_at, now),
            )
            for v in upserts
        ]
        statements += [
            ("DELETE FROM versions WHERE package = ? AND version_normalized = ?", (package.name, v.version_normalized))
            for v in deletes
        ]
        statements.append(
            (
                "UPDATE packages SET tags_modified_at = ?, dev_modified_at = ?, description = COALESCE(?, description) "
                "WHERE name = ?",
                (tags_at, dev_at, description, package.name),
            )
        )
        return statements

    async def add_dist(self, dist: DistRow) -> None:
        """Record a stored archive. Idempotent: the first record for a (package, reference) wins."""
        await self.db.execute(*_insert_dist(dist, self.clock.now()))

    async def count_downloads(self, downloads: list[tuple[str, str]]) -> None:
        """Add one install per (package, normalized version), as reported through notify-batch."""
        day = _day(self.clock.now())
        await self.db.batch(
            [
                (
                    "INSERT INTO downloads (package, version_normalized, day, count) VALUES (?, ?, ?, 1) "
                    "ON CONFLICT (package, version_normalized, day) DO UPDATE SET count = downloads.count + 1",
                    (package, version, day),
                )
                for package, version in downloads
            ]
        )


def _insert_dist(dist: DistRow, now: int) -> tuple[str, Params]:
    return (
        "INSERT INTO dists (package, reference, object_key, shasum, size, upstream_url, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (package, reference) DO NOTHING",
        (dist.package, dist.reference, dist.object_key, dist.shasum, dist.size, dist.upstream_url, now),
    )


def state_statement(name: str, value: int, now: int) -> tuple[str, Params]:
    """The statement that sets a `broker_state` value (read back with `Catalog.state_int`)."""
    return (
        "INSERT INTO broker_state (name, value, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        (name, str(value), now),
    )


def _day(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")


def first_description(rows: list[VersionRow]) -> str | None:
    """The description of the first version that has one (shown by search and `composer show`)."""
    for row in rows:
        description = json.loads(row.data).get("description")
        if isinstance(description, str):
            return description
    return None
