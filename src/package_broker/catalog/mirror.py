"""What lazy mirrors hold, and the one decision of whether a name may come from a mirror at all.

"Private wins": a name a private source serves (a row in `packages`: git, provider, upload or Composer
repository sources) is never fetched, stored or served from a mirror, whatever versions the upstream has;
nor is any name under a vendor the operator marked private (`vendor private acme`). This module makes that
decision (`decide`) from what one database round trip read (`MirrorStore.lookup`), so the request path,
the background refresh, the dist download and `package show` all answer the same way.

Mirrored files live in `mirror_files`, apart from `packages`/`versions`: a private source that starts
serving a name needs no hand-over, it simply shadows the mirror from its first write.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..cache import bump_statement
from ..composer.names import naming_error
from ..errors import InvalidInput
from ..ports import Clock, Database
from ..ports.database import Params

#: The source kind of lazy mirrors (sources/kinds.py).
MIRROR_KIND = "packagist"
_FILE_COLUMNS = (
    "source_id, file, package, status, versions, dists, last_modified, modified_at, checked_at, requested_at"
)
_SOURCE_COLUMNS = "id, url, credentials, upstream_state, enabled, created_at, updated_at"


@dataclass(frozen=True, slots=True)
class MirrorFile:
    """One upstream metadata file a mirror holds (`file` is the name, with `~dev` for branches)."""

    source_id: str
    file: str
    package: str
    #: "ok" (served) or "missing" (the upstream did not know it when last asked).
    status: str
    #: The served version objects, a minified composer/2.0 list as JSON (dist URLs relative).
    versions: str | None
    #: JSON: dist reference -> [upstream URL, upstream shasum].
    dists: str | None
    last_modified: str | None
    modified_at: int
    checked_at: int
    requested_at: int

    @property
    def dev(self) -> bool:
        return self.file.endswith("~dev")

    def dist(self, reference: str) -> tuple[str, str] | None:
        """The upstream URL and shasum of the archive served as `reference`, if this file lists it."""
        found = json.loads(self.dists or "{}").get(reference)
        return (str(found[0]), str(found[1] or "")) if isinstance(found, list) and len(found) == 2 else None


@dataclass(frozen=True, slots=True)
class MirrorSource:
    """The enabled lazy mirror, as the request path needs it."""

    id: str
    url: str
    #: What the upstream's packages.json said (metadata-url, security-advisories api-url), from its sync.
    upstream: dict[str, Any]
    #: When it was added or changed: packages.json's Last-Modified moves past it.
    changed_at: int
    #: Sealed credentials: a GitHub token for dist downloads from api.github.com, if one was given.
    credentials: str | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether a name may come from a mirror, and why (shown by `package show`)."""

    mirror: bool
    reason: str
    #: The private source that serves the name, if one does.
    owner: str | None = None


def vendor_of(name: str) -> str:
    return name.split("/", 1)[0]


def decide(name: str, owner: str | None, vendor_private: bool) -> Decision:
    """The private-versus-mirror rule: a private source's name, or a private vendor's, is never mirrored."""
    if owner is not None:
        return Decision(False, f"served by the private source {owner}; a mirror never serves this name", owner)
    if vendor_private:
        return Decision(False, f"the vendor {vendor_of(name)} is private; its names are never mirrored")
    if naming_error(name) is not None:
        return Decision(False, "not a valid package name")
    return Decision(True, "may be mirrored (no private source serves it)")


@dataclass(frozen=True, slots=True)
class Lookup:
    """What one round trip read about a name: its private owner, its vendor, the mirror's files of it."""

    owner: str | None
    vendor_private: bool
    files: dict[str, MirrorFile]

    @property
    def decision(self) -> Decision:
        return decide(self.name, self.owner, self.vendor_private)

    name: str = ""


class MirrorStore:
    """All SQL about mirrored files and private vendors."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def source(self) -> MirrorSource | None:
        """The enabled lazy mirror (the oldest, if several were added), or None."""
        row = await self.db.fetch_one(
            f"SELECT {_SOURCE_COLUMNS} FROM sources WHERE kind = ? AND enabled = 1 ORDER BY created_at LIMIT 1",
            (MIRROR_KIND,),
        )
        if row is None:
            return None
        upstream = json.loads(row["upstream_state"]) if row["upstream_state"] else {}
        upstream = upstream if isinstance(upstream, dict) else {}
        return MirrorSource(row["id"], row["url"], upstream, row["updated_at"], row["credentials"])

    async def lookup(self, name: str, source_id: str) -> Lookup:
        """The name's private owner, whether its vendor is private, and the mirror's files of it."""
        owner, vendor, files = await self.db.fetch_many(
            [
                ("SELECT source_id FROM packages WHERE name = ?", (name,)),
                ("SELECT vendor FROM private_vendors WHERE vendor = ?", (vendor_of(name),)),
                (f"SELECT {_FILE_COLUMNS} FROM mirror_files WHERE source_id = ? AND package = ?", (source_id, name)),
            ]
        )
        return Lookup(
            owner[0]["source_id"] if owner else None,
            bool(vendor),
            {row["file"]: MirrorFile(**row) for row in files},
            name,
        )

    async def classify(self, names: list[str], source_id: str | None) -> tuple[set[str], set[str]]:
        """Of `names`: those that are private (a private source serves them, or their vendor is private),
        and those the mirror `source_id` serves (fetched and found upstream)."""
        private: set[str] = set()
        mirrored: set[str] = set()
        vendors = set(await self.private_vendors())
        private.update(n for n in names if vendor_of(n) in vendors)
        for start in range(0, len(names), 90):
            chunk = names[start : start + 90]
            marks = ", ".join("?" * len(chunk))
            queries: list[tuple[str, Params]] = [(f"SELECT name FROM packages WHERE name IN ({marks})", tuple(chunk))]
            if source_id is not None:
                queries.append(
                    (
                        "SELECT DISTINCT package AS name FROM mirror_files WHERE source_id = ? AND status = 'ok' "
                        f"AND package IN ({marks})",
                        (source_id, *chunk),
                    )
                )
            results = await self.db.fetch_many(queries)
            private.update(row["name"] for row in results[0])
            if len(results) > 1:
                mirrored.update(row["name"] for row in results[1])
        return private, mirrored - private

    async def files(self, source_id: str, *, after: str | None = None, limit: int = 500) -> list[MirrorFile]:
        """A mirror's files in name order, after `after` (a refresh pass resumes there)."""
        rows = await self.db.fetch_all(
            f"SELECT {_FILE_COLUMNS} FROM mirror_files WHERE source_id = ? AND file > ? ORDER BY file LIMIT ?",
            (source_id, after or "", limit),
        )
        return [MirrorFile(**row) for row in rows]

    async def files_of(self, name: str) -> list[MirrorFile]:
        rows = await self.db.fetch_all(
            f"SELECT {_FILE_COLUMNS} FROM mirror_files WHERE package = ? ORDER BY file", (name,)
        )
        return [MirrorFile(**row) for row in rows]

    def save_statements(self, file: MirrorFile, *, changed: bool) -> list[tuple[str, Params]]:
        """Store a file; `changed`: what it serves changed, so every cached document is dropped too."""
        statements: list[tuple[str, Params]] = [
            (
                f"INSERT INTO mirror_files ({_FILE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (source_id, file) DO UPDATE SET status = excluded.status, versions = excluded.versions, "
                "dists = excluded.dists, last_modified = excluded.last_modified, modified_at = excluded.modified_at, "
                "checked_at = excluded.checked_at, requested_at = excluded.requested_at",
                (
                    file.source_id,
                    file.file,
                    file.package,
                    file.status,
                    file.versions,
                    file.dists,
                    file.last_modified,
                    file.modified_at,
                    file.checked_at,
                    file.requested_at,
                ),
            )
        ]
        if changed:
            statements.append(bump_statement(self.clock.now()))
        return statements

    async def save(self, file: MirrorFile, *, changed: bool) -> None:
        await self.db.batch(self.save_statements(file, changed=changed))

    async def forget(self, source_id: str, files: list[str]) -> None:
        """Drop files a mirror may no longer serve (a private source or vendor took the name)."""
        await self.db.batch(
            [("DELETE FROM mirror_files WHERE source_id = ? AND file = ?", (source_id, f)) for f in files]
        )

    # -- private vendors ------------------------------------------------------------------------

    async def private_vendors(self) -> list[str]:
        rows = await self.db.fetch_all("SELECT vendor FROM private_vendors ORDER BY vendor")
        return [row["vendor"] for row in rows]

    async def mark_private(self, vendor: str, private: bool = True) -> list[str]:
        """Mark (or unmark) a vendor private. Marking drops what mirrors hold of its names at once; returns
        the names dropped."""
        vendor = vendor.strip().lower().rstrip("/")
        if naming_error(f"{vendor}/x") is not None or "/" in vendor:
            raise InvalidInput(f"{vendor!r} is not a vendor name (the part before the slash, e.g. acme)")
        now = self.clock.now()
        if not private:
            await self.db.batch([("DELETE FROM private_vendors WHERE vendor = ?", (vendor,)), bump_statement(now)])
            return []
        like = vendor.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "/%"
        dropped = await self.db.fetch_all(
            "SELECT DISTINCT package FROM mirror_files WHERE package LIKE ? ESCAPE '\\' ORDER BY package", (like,)
        )
        await self.db.batch(
            [
                (
                    "INSERT INTO private_vendors (vendor, created_at) VALUES (?, ?) ON CONFLICT (vendor) DO NOTHING",
                    (vendor, now),
                ),
                ("DELETE FROM mirror_files WHERE package LIKE ? ESCAPE '\\'", (like,)),
                bump_statement(now),
            ]
        )
        return [row["package"] for row in dropped]
