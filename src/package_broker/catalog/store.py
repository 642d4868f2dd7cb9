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
from ..composer.names import prefix_text
from ..errors import Conflict
from ..ports import Clock, Database
from ..ports.database import Params

NAMES_MODIFIED = "names_modified_at"
#: The URL the server last said it serves (BASE_URL, else its address): what `token create` prints.
PUBLIC_URL = "public_url"
#: Grants a search puts into its SQL (3 more parameters: the query twice and the limit), within D1's 100.
SEARCH_SCOPE_PARAMETERS = 90
#: Reported downloads matched per statement: 2 parameters each, plus the day, within D1's 100.
DOWNLOADS_PER_STATEMENT = 40
_DIST_COLUMNS = "package, reference, object_key, shasum, size, upstream_url"
_VERSION_READ = "version_normalized, version, is_dev, reference, data, released_at"
_VERSION_COLUMNS = "package, version_normalized, version, is_dev, reference, data, released_at, updated_at"
_VERSION_UPDATE = (
    "version = excluded.version, is_dev = excluded.is_dev, reference = excluded.reference, data = excluded.data, "
    "released_at = excluded.released_at, updated_at = excluded.updated_at"
)


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
        rows = await self.db.fetch_all(f"SELECT {_VERSION_READ} FROM versions WHERE package = ?", (name,))
        return [VersionRow.from_db(row) for row in rows]

    async def served_versions(self, name: str) -> list[VersionRow]:
        """The versions metadata lists: all but those an operator hid (catalog/admin.py)."""
        rows = await self.db.fetch_all(
            f"SELECT {_VERSION_READ} FROM versions v WHERE package = ? AND NOT EXISTS (SELECT 1 FROM hidden_versions "
            "h WHERE h.package = v.package AND h.version_normalized = v.version_normalized)",
            (name,),
        )
        return [VersionRow.from_db(row) for row in rows]

    async def names(self) -> tuple[list[str], int]:
        """Return every package name (sorted) and when that set of names last changed."""
        rows = await self.db.fetch_all("SELECT name FROM packages ORDER BY name")
        return [row["name"] for row in rows], await self.state_int(NAMES_MODIFIED)

    async def search(
        self,
        query: str,
        limit: int = 50,
        prefixes: Sequence[str] | None = None,
        names: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Packages whose name or description contains `query`, limited to a token's grants (names starting
        with one of `prefixes` or equal to one of `names`; both None: every name) in the query itself, so
        the limit counts only what the caller may see. The caller still filters with `Token.may_see`.

        With more grants than SEARCH_SCOPE_PARAMETERS (D1 takes 100 parameters) they stay out of the SQL
        and every match is returned, without the limit: the caller filters, then cuts to its limit."""
        if prefixes is None and names is None:
            scope_params: list[str] = []
        else:
            scope_params = [like_escape(prefix_text(p)) + "%" for p in prefixes or ()] + list(names or ())
            if not scope_params:
                return []
        # LIKE ignores ASCII case on SQLite/D1 but not on PostgreSQL: the database lower-cases both sides.
        like = "%" + like_escape(query) + "%"
        sql = (
            "SELECT name, description FROM packages WHERE (LOWER(name) LIKE LOWER(?) ESCAPE '\\' "
            "OR LOWER(description) LIKE LOWER(?) ESCAPE '\\')"
        )
        if len(scope_params) > SEARCH_SCOPE_PARAMETERS:
            return await self.db.fetch_all(sql + " ORDER BY name", (like, like))
        if scope_params:
            terms = ["name LIKE ? ESCAPE '\\'"] * len(prefixes or ())
            if names:
                terms.append("name IN (" + ", ".join("?" * len(names)) + ")")
            sql += " AND (" + " OR ".join(terms) + ")"
        return await self.db.fetch_all(sql + " ORDER BY name LIMIT ?", (like, like, *scope_params, limit))

    async def dist(self, package: str, reference: str) -> DistRow | None:
        row = await self.db.fetch_one(
            f"SELECT {_DIST_COLUMNS} FROM dists WHERE package = ? AND reference = ?",
            (package, reference),
        )
        return DistRow(**row) if row else None

    async def state_int(self, name: str) -> int:
        return int(await self.state_text(name) or 0)

    async def state_text(self, name: str) -> str | None:
        """A `broker_state` value (see `state_statement`), or None when it was never set."""
        row = await self.db.fetch_one("SELECT value FROM broker_state WHERE name = ?", (name,))
        return str(row["value"]) if row else None

    async def state(self, name: str) -> PackageState:
        """Read what `write` needs about a package name: its row, versions and archives (one round trip)."""
        package, versions, dists, names = await self.db.fetch_many(
            [
                ("SELECT name, source_id, tags_modified_at, dev_modified_at FROM packages WHERE name = ?", (name,)),
                (f"SELECT {_VERSION_READ} FROM versions WHERE package = ?", (name,)),
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

    def _modified_times(self, package: PackageRow, touched: Sequence[VersionRow]) -> tuple[int, int]:
        """The package's new Last-Modified times (tags, branches) after `touched` versions changed."""
        tags_at = package.tags_modified_at
        dev_at = package.dev_modified_at
        if any(not v.is_dev for v in touched):
            tags_at = self._after(tags_at)
        if any(v.is_dev for v in touched):
            dev_at = self._after(dev_at)
        return tags_at, dev_at

    def _version_statements(
        self,
        package: PackageRow,
        upserts: list[VersionRow],
        deletes: list[VersionRow],
        description: str | None,
        now: int,
    ) -> list[tuple[str, Params]]:
        tags_at, dev_at = self._modified_times(package, upserts + deletes)
        statements: list[tuple[str, Params]] = [
            (
                f"INSERT INTO versions ({_VERSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                f"ON CONFLICT (package, version_normalized) DO UPDATE SET {_VERSION_UPDATE}",
                _version_values(package.name, v, now),
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

    async def publish(
        self, state: PackageState, source_id: str, row: VersionRow, *, dist: DistRow, description: str | None = None
    ) -> VersionRow | None:
        """Serve `row` as a version of `state.name` unless that version changed since `state` was read.

        A compare-and-set, so that concurrent publishers of one version (who all read the same state) cannot
        all win: the version row is inserted only if it is still absent, or, when `state` had one (a
        replacement), updated only if it still has the reference `state` saw; and only if `source_id` owns
        the name. One transaction, then one read of what is served now. The SQL is portable (SQLite, D1,
        PostgreSQL): no driver has to report how many rows a statement changed.

        Returns the row served for that version afterwards: `row` when this call won, another row when
        someone else's won, None when the name belongs to another source. The dist record is kept either
        way (the archive is stored; it is just not served).
        """
        now = self.clock.now()
        name, key = state.name, row.version_normalized
        package = state.package or PackageRow(name, source_id, now, now)
        statements: list[tuple[str, Params]] = [_insert_dist(dist, now)]
        if state.package is None:
            statements += [
                (
                    "INSERT INTO packages (name, source_id, tags_modified_at, dev_modified_at, description, "
                    "created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING",
                    (name, source_id, now, now, description, now),
                ),
                state_statement(NAMES_MODIFIED, self._after(state.names_modified_at), now),
            ]
        previous = state.versions.get(key)
        on_conflict = (
            "DO NOTHING" if previous is None else f"DO UPDATE SET {_VERSION_UPDATE} WHERE versions.reference = ?"
        )
        statements.append(
            (
                f"INSERT INTO versions ({_VERSION_COLUMNS}) SELECT ?, ?, ?, ?, ?, ?, ?, ? "
                "WHERE EXISTS (SELECT 1 FROM packages WHERE name = ? AND source_id = ?) "
                f"ON CONFLICT (package, version_normalized) {on_conflict}",
                (*_version_values(name, row, now), name, source_id, *([previous.reference] if previous else [])),
            )
        )
        tags_at, dev_at = self._modified_times(package, [row] + ([previous] if previous else []))
        statements += [
            (
                "UPDATE packages SET tags_modified_at = ?, dev_modified_at = ?, description = COALESCE(?, description) "
                "WHERE name = ? AND EXISTS (SELECT 1 FROM versions WHERE package = ? AND version_normalized = ? "
                "AND reference = ?)",
                (tags_at, dev_at, description, name, name, key, row.reference),
            ),
            bump_statement(now),
        ]
        await self.db.batch(statements)
        self.cache.forget()
        served = await self.db.fetch_one(
            f"SELECT {_VERSION_READ} FROM versions WHERE package = ? AND version_normalized = ?", (name, key)
        )
        return VersionRow.from_db(served) if served else None

    async def add_dist(self, dist: DistRow) -> None:
        """Record a stored archive. Idempotent: the first record for a (package, reference) wins."""
        await self.db.execute(*_insert_dist(dist, self.clock.now()))

    async def count_downloads(self, downloads: Sequence[tuple[str, str]]) -> None:
        """Add one install per reported (package, normalized version) that is served, in one batch.

        Each statement inserts from a SELECT on `versions`, so pairs the broker does not serve count
        nothing and a report cannot create rows at will; a pair reported twice counts once. Statements take
        at most DOWNLOADS_PER_STATEMENT pairs (D1 binds at most 100 parameters per statement).
        """
        pairs = list(dict.fromkeys(downloads))
        day = _day(self.clock.now())
        statements: list[tuple[str, Params]] = []
        for start in range(0, len(pairs), DOWNLOADS_PER_STATEMENT):
            chunk = pairs[start : start + DOWNLOADS_PER_STATEMENT]
            match = " OR ".join(["(package = ? AND version_normalized = ?)"] * len(chunk))
            statements.append(
                (
                    "INSERT INTO downloads (package, version_normalized, day, count) "
                    f"SELECT package, version_normalized, ?, 1 FROM versions WHERE {match} "
                    "ON CONFLICT (package, version_normalized, day) DO UPDATE SET count = downloads.count + 1",
                    (day, *(value for pair in chunk for value in pair)),
                )
            )
        if statements:
            await self.db.batch(statements)


def like_escape(text: str) -> str:
    """`text` as a LIKE pattern matching itself (with ESCAPE '\\')."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _version_values(package: str, v: VersionRow, now: int) -> Params:
    return (package, v.version_normalized, v.version, int(v.is_dev), v.reference, v.data, v.released_at, now)


def _insert_dist(dist: DistRow, now: int) -> tuple[str, Params]:
    return (
        "INSERT INTO dists (package, reference, object_key, shasum, size, upstream_url, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (package, reference) DO NOTHING",
        (dist.package, dist.reference, dist.object_key, dist.shasum, dist.size, dist.upstream_url, now),
    )


def state_statement(name: str, value: int | str, now: int) -> tuple[str, Params]:
    """The statement that sets a `broker_state` value (read back with `Catalog.state_int`/`state_text`)."""
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
