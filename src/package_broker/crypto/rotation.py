"""Moving every sealed value from ENCRYPTION_KEY_PREVIOUS to ENCRYPTION_KEY (`package-broker keys rotate`).

What is sealed: a source's upstream `credentials` and its `webhook_secret`. Each value names the key that
sealed it (crypto/credentials.py), so a value already under ENCRYPTION_KEY is skipped: a second run, or a
run after an interrupted one, only does what is left. Each row is updated with a compare-and-set on the
value that was read, so a `source edit` or a running server that writes the column meanwhile is never
overwritten (the new value is read again and judged on its own). A value that opens with neither key is
reported and left exactly as it is.

Everything here works over the Database and Cipher ports, so the server CLI and (later) the Worker's admin
API run the same code; `rotation_statements` is for the Worker today: it turns an export of the rows into
SQL with the same compare-and-set.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .. import audit
from ..errors import ConfigError
from ..ports import Clock, Database, SystemClock
from ..ports.cipher import Cipher
from ..ports.database import Params
from .credentials import key_id, seal, sealed_key_id, unseal

#: The sealed columns of `sources` (the only table holding sealed values); fixed names, safe in SQL text.
SEALED_COLUMNS = ("credentials", "webhook_secret")
#: The query whose rows `values_of` reads (also what the Worker's export runs through wrangler).
SELECT_SEALED = "SELECT id, credentials, webhook_secret FROM sources ORDER BY id"
#: How often a value changed under our feet is read again before the run gives up on it.
ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class Keys:
    """ENCRYPTION_KEY (seals and opens) and ENCRYPTION_KEY_PREVIOUS (only opens), as raw bytes."""

    current: bytes
    previous: bytes | None = None

    def report(self) -> KeyReport:
        """An empty report naming both keys by their ids."""
        return KeyReport(key_id(self.current), key_id(self.previous) if self.previous else None)


@dataclass(frozen=True, slots=True)
class SealedValue:
    source_id: str
    #: One of SEALED_COLUMNS.
    column: str
    sealed: str


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A value neither key opens, and why; it is left as it is."""

    source_id: str
    column: str
    #: The id of the key that sealed it, when the value names one.
    key: str | None
    reason: str


@dataclass
class KeyReport:
    """What a check or a rotation found, value by value."""

    key: str
    previous_key: str | None
    #: Already under ENCRYPTION_KEY (and it opens them).
    current: int = 0
    #: Under ENCRYPTION_KEY_PREVIOUS and still there (a check; or a rotation's `limit` stopped first).
    previous: int = 0
    #: Re-encrypted under ENCRYPTION_KEY by this run (or, for the Worker, given an UPDATE statement).
    rotated: int = 0
    #: Changed by someone else every time this run tried (source ids): run again.
    changed: list[str] = field(default_factory=list)
    unreadable: list[Unreadable] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Every value opens with ENCRYPTION_KEY alone: ENCRYPTION_KEY_PREVIOUS may go."""
        return not (self.previous or self.changed or self.unreadable)

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "previous_key": self.previous_key,
            "current": self.current,
            "previous": self.previous,
            "rotated": self.rotated,
            "changed": self.changed,
            "unreadable": [
                {"source": u.source_id, "column": u.column, "key": u.key, "reason": u.reason} for u in self.unreadable
            ],
            "complete": self.complete,
        }


def values_of(rows: Iterable[Mapping[str, Any]]) -> list[SealedValue]:
    """The sealed values in rows of `SELECT id, credentials, webhook_secret FROM sources` (NULLs are none)."""
    return [
        SealedValue(str(row["id"]), column, str(row[column]))
        for row in rows
        for column in SEALED_COLUMNS
        if row.get(column)
    ]


async def sealed_values(db: Database) -> list[SealedValue]:
    """Every sealed value in the database, in a stable order."""
    return values_of(await db.fetch_all(SELECT_SEALED))


@dataclass(frozen=True, slots=True)
class _Opened:
    state: str  # "current" | "previous" | "unreadable"
    plaintext: bytes = b""
    reason: str = ""


async def _open(cipher: Cipher, keys: Keys, sealed: str) -> _Opened:
    try:
        plaintext = await unseal(cipher, keys.current, sealed, keys.previous)
    except ConfigError as exc:
        return _Opened("unreadable", reason=exc.problem)
    return _Opened("current" if sealed_key_id(sealed) == key_id(keys.current) else "previous", plaintext)


def _unreadable(value: SealedValue, reason: str) -> Unreadable:
    return Unreadable(value.source_id, value.column, sealed_key_id(value.sealed), reason)


async def check(cipher: Cipher, keys: Keys, values: Iterable[SealedValue]) -> KeyReport:
    """Count the values each key opens, and name those neither opens. Changes nothing."""
    report = keys.report()
    for value in values:
        opened = await _open(cipher, keys, value.sealed)
        if opened.state == "current":
            report.current += 1
        elif opened.state == "previous":
            report.previous += 1
        else:
            report.unreadable.append(_unreadable(value, opened.reason))
    return report


def _update(column: str) -> str:
    if column not in SEALED_COLUMNS:
        raise ValueError(f"not a sealed column: {column!r}")
    return f"UPDATE sources SET {column} = ? WHERE id = ? AND {column} = ?"


async def rotate(
    db: Database,
    cipher: Cipher,
    keys: Keys,
    values: list[SealedValue] | None = None,
    *,
    limit: int | None = None,
    progress: Callable[[int], None] | None = None,
    clock: Clock | None = None,
) -> KeyReport:
    """Re-encrypt every value under ENCRYPTION_KEY_PREVIOUS with ENCRYPTION_KEY, one compare-and-set each.

    `values` defaults to what the database holds now (a caller may pass a listing it made earlier: a stale
    one is safe, the compare-and-set notices). `limit` stops after that many re-encryptions (what is left
    is counted in `previous`); `progress` is called with 1 after each value. A run that re-encrypted
    something is recorded in the audit log (`keys.rotated`, target: the new key's id).
    """
    report = keys.report()
    for value in await sealed_values(db) if values is None else values:
        await _rotate_one(db, cipher, keys, value, report, stop=limit is not None and report.rotated >= limit)
        if progress is not None:
            progress(1)
    if report.rotated:
        await db.execute(*audit_entry(report, (clock or SystemClock()).now()))
    return report


def audit_entry(report: KeyReport, now: int, actor: str | None = None) -> audit.Statement:
    """The audit log's `keys.rotated` entry for a run (by whoever is acting here, unless `actor` says)."""
    details = {"resealed": report.rotated, "previous_key": report.previous_key}
    if actor is None:
        return audit.rotated_key(now, report.key, details=details)
    return audit.statement(now, actor, "keys.rotated", report.key, details=details)


async def _rotate_one(
    db: Database, cipher: Cipher, keys: Keys, value: SealedValue, report: KeyReport, *, stop: bool
) -> None:
    for _ in range(ATTEMPTS):
        opened = await _open(cipher, keys, value.sealed)
        if opened.state == "current":
            report.current += 1
            return
        if opened.state == "unreadable":
            report.unreadable.append(_unreadable(value, opened.reason))
            return
        if stop:
            report.previous += 1
            return
        resealed = await seal(cipher, keys.current, opened.plaintext)
        if await db.execute(_update(value.column), (resealed, value.source_id, value.sealed)) == 1:
            report.rotated += 1
            return
        # Someone wrote the column since we read it: judge what is there now, never overwrite it.
        row = await db.fetch_one(f"SELECT {value.column} AS sealed FROM sources WHERE id = ?", (value.source_id,))
        if row is None or not row["sealed"]:
            return  # the source or its secret is gone: nothing left to re-encrypt
        value = replace(value, sealed=str(row["sealed"]))
    report.changed.append(value.source_id)


async def rotation_statements(
    cipher: Cipher, keys: Keys, values: Iterable[SealedValue]
) -> tuple[list[tuple[str, Params]], KeyReport]:
    """For a database this process cannot reach (D1): an UPDATE per value under ENCRYPTION_KEY_PREVIOUS,
    re-sealed under ENCRYPTION_KEY, with the compare-and-set on the exported value (a row changed since
    the export is left alone; export and run again)."""
    report = keys.report()
    statements: list[tuple[str, Params]] = []
    for value in values:
        opened = await _open(cipher, keys, value.sealed)
        if opened.state == "current":
            report.current += 1
        elif opened.state == "unreadable":
            report.unreadable.append(_unreadable(value, opened.reason))
        else:
            resealed = await seal(cipher, keys.current, opened.plaintext)
            statements.append((_update(value.column), (resealed, value.source_id, value.sealed)))
            report.rotated += 1
    return statements, report
