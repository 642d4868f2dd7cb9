"""What an operator does to what is served (the CLI today, the admin API later): look at packages, delete an
uploaded version, hide a version a source serves, remove a source.

Archives are kept by default whatever is deleted: every dist URL that ever appeared in metadata keeps
working, so a `composer.lock` naming a deleted version still installs (`composer update` no longer offers
it). `purge` deletes the archives too, for a version that must not be downloadable any more (a leaked
secret): then such lock files fail, and the caller says so.

Every change writes a new cache generation in its own transaction (package_broker.cache) and moves the
package's Last-Modified forward, so clients see it within MEMO_SECONDS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .. import audit
from ..cache import bump_statement
from ..errors import Conflict, InvalidInput, NotFound
from ..ports.database import Params
from .store import NAMES_MODIFIED, like_escape, state_statement

if TYPE_CHECKING:
    from ..broker import Broker

Statement = tuple[str, Params]


@dataclass(frozen=True, slots=True)
class PackageSummary:
    name: str
    source_id: str
    source_kind: str
    versions: int
    dev_versions: int
    #: Unix seconds: the later of the two Last-Modified times.
    modified_at: int
    downloads: int
    description: str | None = None


@dataclass(frozen=True, slots=True)
class VersionDetail:
    version: str
    version_normalized: str
    reference: str
    is_dev: bool
    released_at: int | None
    #: Bytes of the stored archive of this reference, or None if none is recorded.
    dist_size: int | None
    downloads: int
    hidden: bool


@dataclass(frozen=True, slots=True)
class PackageDetail:
    name: str
    description: str | None
    source_id: str
    source_kind: str
    source_url: str
    versions: list[VersionDetail]


async def list_packages(
    broker: Broker, *, search: str | None = None, after: str | None = None, limit: int | None = None
) -> list[PackageSummary]:
    """Served packages by name with their source, version counts and downloads (two queries in all):
    every one, or those whose name or description contains `search`, named after `after`, at most `limit`."""
    where: list[str] = []
    params: list[str | int] = []
    if search:
        like = "%" + like_escape(search) + "%"
        where.append(
            "(LOWER(p.name) LIKE LOWER(?) ESCAPE '\\' OR LOWER(COALESCE(p.description, '')) LIKE LOWER(?) ESCAPE '\\')"
        )
        params += [like, like]
    if after:
        where.append("p.name > ?")
        params.append(after)
    sql = (
        "SELECT p.name, p.description, p.source_id, s.kind, p.tags_modified_at, p.dev_modified_at, "
        "SUM(CASE WHEN v.is_dev = 0 THEN 1 ELSE 0 END) AS tags, "
        "SUM(CASE WHEN v.is_dev = 1 THEN 1 ELSE 0 END) AS devs "
        "FROM packages p JOIN sources s ON s.id = p.source_id "
        "LEFT JOIN versions v ON v.package = p.name "
        + ("WHERE " + " AND ".join(where) + " " if where else "")
        + "GROUP BY p.name, p.description, p.source_id, s.kind, p.tags_modified_at, p.dev_modified_at ORDER BY p.name"
    )
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    packages = await broker.ports.db.fetch_all(sql, params)
    if not packages:
        return []
    # The downloads of the names listed: between the first and the last name (one range, whatever the page).
    downloads = await broker.ports.db.fetch_all(
        "SELECT package, SUM(count) AS n FROM downloads WHERE package >= ? AND package <= ? GROUP BY package",
        (packages[0]["name"], packages[-1]["name"]),
    )
    counted = {row["package"]: int(row["n"]) for row in downloads}
    return [
        PackageSummary(
            row["name"],
            row["source_id"],
            row["kind"],
            int(row["tags"] or 0),
            int(row["devs"] or 0),
            max(int(row["tags_modified_at"]), int(row["dev_modified_at"])),
            counted.get(row["name"], 0),
            row["description"],
        )
        for row in packages
    ]


async def show_package(broker: Broker, name: str) -> PackageDetail:
    """One package: where it comes from and each version with its archive size, downloads, hidden flag."""
    package, versions, dists, downloads, hidden = await broker.ports.db.fetch_many(
        [
            (
                "SELECT p.name, p.description, s.id, s.kind, s.url FROM packages p "
                "JOIN sources s ON s.id = p.source_id WHERE p.name = ?",
                (name,),
            ),
            (
                "SELECT version, version_normalized, reference, is_dev, released_at FROM versions WHERE package = ?",
                (name,),
            ),
            ("SELECT reference, size FROM dists WHERE package = ?", (name,)),
            (
                "SELECT version_normalized, SUM(count) AS n FROM downloads WHERE package = ? "
                "GROUP BY version_normalized",
                (name,),
            ),
            ("SELECT version_normalized FROM hidden_versions WHERE package = ?", (name,)),
        ]
    )
    if not package:
        raise NotFound(f"{name} is not served here; see `package-broker package list`")
    sizes = {row["reference"]: int(row["size"]) for row in dists}
    counts = {row["version_normalized"]: int(row["n"]) for row in downloads}
    hidden_keys = {row["version_normalized"] for row in hidden}
    details = sorted(
        (
            VersionDetail(
                row["version"],
                row["version_normalized"],
                row["reference"],
                bool(row["is_dev"]),
                row["released_at"],
                sizes.get(row["reference"]),
                counts.get(row["version_normalized"], 0),
                row["version_normalized"] in hidden_keys,
            )
            for row in versions
        ),
        key=lambda v: (v.is_dev, v.version_normalized),
    )
    row = package[0]
    return PackageDetail(row["name"], row["description"], row["id"], row["kind"], row["url"], details)


def _after(previous: int, now: int) -> int:
    return max(now, previous + 1)


async def _apply(broker: Broker, statements: list[Statement]) -> None:
    now = broker.clock.now()
    await broker.ports.db.batch([*statements, bump_statement(now)])
    broker.cache.forget()


async def delete(broker: Broker, name: str, version: str | None = None, *, purge: bool = False) -> str:
    """Stop serving `name` (or one version of it); returns a sentence saying what happened.

    An uploaded version is deleted; a version a git or mirror source serves is hidden (its source would
    bring a deleted one back); a whole package can be deleted only if it was uploaded.

    Raises:
        NotFound: no such package or version. Conflict: a whole package that a source serves.
    """
    state = await broker.catalog.state(name)
    if state.package is None:
        raise NotFound(f"{name} is not served here; see `package-broker package list`")
    uploads = await broker.sources.uploads()
    uploaded = state.package.source_id == uploads.id
    now = broker.clock.now()
    if version is None:
        if not uploaded:
            raise Conflict(
                f"{name} comes from source {state.package.source_id}: remove that source (`source remove`), or "
                "hide its versions one at a time (`package delete NAME VERSION`)"
            )
        victims = list(state.versions.values())
        statements: list[Statement] = [
            ("DELETE FROM versions WHERE package = ?", (name,)),
            ("DELETE FROM hidden_versions WHERE package = ?", (name,)),
            ("DELETE FROM packages WHERE name = ?", (name,)),
            state_statement(NAMES_MODIFIED, _after(state.names_modified_at, now), now),
        ]
    else:
        from ..composer.versions import normalize

        key = normalize(version)
        target = state.versions.get(key)
        if target is None:
            raise NotFound(f"{name} has no version {version}; see `package-broker package show {name}`")
        victims = [target]
        column = "dev_modified_at" if target.is_dev else "tags_modified_at"
        moved = _after(state.package.dev_modified_at if target.is_dev else state.package.tags_modified_at, now)
        statements = [(f"UPDATE packages SET {column} = ? WHERE name = ?", (moved, name))]
        if uploaded:
            statements.append(("DELETE FROM versions WHERE package = ? AND version_normalized = ?", (name, key)))
        else:
            statements.append(
                (
                    "INSERT INTO hidden_versions (package, version_normalized, hidden_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (package, version_normalized) DO NOTHING",
                    (name, key, now),
                )
            )
    if purge:
        kept = {v.reference for v in state.versions.values()} - {v.reference for v in victims}
        references = [v.reference for v in victims if v.reference not in kept and v.reference in state.dists]
        statements += [("DELETE FROM dists WHERE package = ? AND reference = ?", (name, r)) for r in references]
    audited = f"{name} {victims[0].version}" if version is not None else name
    statements.append(audit.entry(now, "package.deleted", audited, {"hidden": not uploaded, "purge": purge}))
    await _apply(broker, statements)
    if purge:
        for reference in references:
            await broker.ports.objects.delete(state.dists[reference].object_key)
    what = f"{name} {victims[0].version}" if version is not None else name
    verb = "deleted" if uploaded else "hidden (its source still lists it; `package restore` serves it again)"
    keep = (
        "its archive is deleted too: a composer.lock naming it can no longer install"
        if purge
        else "its archive stays downloadable, so a composer.lock naming it still installs"
    )
    return f"{what} {verb}; {keep}"


async def restore(broker: Broker, name: str, version: str) -> str:
    """Serve a hidden version again."""
    from ..composer.versions import normalize

    key = normalize(version)
    row = await broker.ports.db.fetch_one(
        "SELECT 1 AS hidden FROM hidden_versions WHERE package = ? AND version_normalized = ?", (name, key)
    )
    if row is None:
        raise NotFound(f"{name} {version} is not hidden")
    state = await broker.catalog.state(name)
    now = broker.clock.now()
    target = state.versions.get(key)
    statements: list[Statement] = [
        ("DELETE FROM hidden_versions WHERE package = ? AND version_normalized = ?", (name, key))
    ]
    if state.package is not None and target is not None:
        column = "dev_modified_at" if target.is_dev else "tags_modified_at"
        moved = _after(state.package.dev_modified_at if target.is_dev else state.package.tags_modified_at, now)
        statements.append((f"UPDATE packages SET {column} = ? WHERE name = ?", (moved, name)))
    statements.append(audit.entry(now, "package.restored", f"{name} {target.version if target else version}"))
    await _apply(broker, statements)
    return f"{name} {version} is served again"


async def remove_source(broker: Broker, source_id: str, *, purge: bool = False) -> list[str]:
    """Stop syncing and serving a source; returns the package names it served (now gone from metadata).

    Raises:
        NotFound: no such source. InvalidInput: the uploads source (delete its packages instead).
    """
    source = await broker.sources.get(source_id)
    if source.kind == "artifact":
        raise InvalidInput("uploads are not a source you can remove: delete their packages with `package delete`")
    rows = await broker.ports.db.fetch_all("SELECT name FROM packages WHERE source_id = ?", (source_id,))
    names = [row["name"] for row in rows]
    now = broker.clock.now()
    statements: list[Statement] = []
    for name in names:
        statements += [
            ("DELETE FROM versions WHERE package = ?", (name,)),
            ("DELETE FROM hidden_versions WHERE package = ?", (name,)),
        ]
    statements += [
        ("DELETE FROM packages WHERE source_id = ?", (source_id,)),
        ("DELETE FROM source_refs WHERE source_id = ?", (source_id,)),
        ("DELETE FROM sources WHERE id = ?", (source_id,)),
    ]
    if names:
        names_at = await broker.catalog.state_int(NAMES_MODIFIED)
        statements.append(state_statement(NAMES_MODIFIED, _after(names_at, now), now))
    dists: list[dict[str, str]] = []
    if purge:
        for name in names:
            dists += await broker.ports.db.fetch_all(
                "SELECT package, reference, object_key FROM dists WHERE package = ?", (name,)
            )
            statements.append(("DELETE FROM dists WHERE package = ?", (name,)))
    details = {"kind": source.kind, "url": source.url, "packages": len(names), "purge": purge}
    statements.append(audit.entry(now, "source.removed", source_id, details))
    await _apply(broker, statements)
    for dist in dists:
        await broker.ports.objects.delete(dist["object_key"])
    return names
