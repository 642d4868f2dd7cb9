"""Moving every sealed value from ENCRYPTION_KEY_PREVIOUS to ENCRYPTION_KEY (`package-broker keys rotate`).

What is sealed (`TABLES`): a source's upstream `credentials` and its `webhook_secret`, and a user's TOTP
secret (`totp_secret`, and `totp_pending` while a set-up waits for its first code). Each value names the key
that sealed it (crypto/credentials.py), so a value already under ENCRYPTION_KEY is skipped: a second run, or
a run after an interrupted one, only does what is left. TOTP secrets written before they were sealed are
still in clear (base32, no `v1.` prefix): the broker keeps accepting them, and a rotation seals them under
ENCRYPTION_KEY (counted in `rotated`; a check counts them in `clear`). Each row is updated with a
compare-and-set on the value that was read, so a `source edit`, a new two-factor set-up or a running server
that writes the column meanwhile is never overwritten (the new value is read again and judged on its own).
A value that opens with neither key is reported and left exactly as it is.

Everything here works over the Database and Cipher ports, so the server CLI and (later) the Worker's admin
API run the same code; `rotation_statements` is for the Worker today: it turns an export of the rows into
SQL with the same compare-and-set.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .. import audit
from ..accounts import totp
from ..errors import ConfigError
from ..ports import Clock, Database, SystemClock
from ..ports.cipher import Cipher
from ..ports.database import Params
from .credentials import key_id, seal, sealed_key_id, unseal

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
class SealedTable:
    """A table holding sealed values. Names are fixed here, so they are safe in SQL text."""

    name: str
    #: The column naming a row (its primary key).
    key: str
    columns: tuple[str, ...]
    #: How reports name a row: this, then its key (sources by their bare id, as before users had sealed values).
    noun: str = ""
    #: For values stored in clear before the column was sealed: True for such a value (`rotate` seals it).
    #: None: every value must be sealed.
    clear: Callable[[str], bool] | None = None

    @property
    def select(self) -> str:
        """The query whose rows `values_of` reads (also what the Worker's export runs through wrangler)."""
        return f"SELECT {self.key}, {', '.join(self.columns)} FROM {self.name} ORDER BY {self.key}"

    def label(self, row: str) -> str:
        return f"{self.noun} {row}" if self.noun else row

    def update(self, column: str) -> str:
        """The compare-and-set: (new value, row, value read)."""
        if column not in self.columns:
            raise ValueError(f"not a sealed column of {self.name}: {column!r}")
        return f"UPDATE {self.name} SET {column} = ? WHERE {self.key} = ? AND {column} = ?"


SOURCES = SealedTable("sources", "id", ("credentials", "webhook_secret"))
USERS = SealedTable("users", "name", ("totp_secret", "totp_pending"), noun="user", clear=totp.is_secret)
#: Every table holding sealed values, in the order they are checked and rotated.
TABLES = (SOURCES, USERS)


@dataclass(frozen=True, slots=True)
class SealedValue:
    table: SealedTable
    #: The row's key (a source's id, a user's name).
    row: str
    #: One of the table's columns.
    column: str
    sealed: str

    @property
    def label(self) -> str:
        return self.table.label(self.row)


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A value neither key opens, and why; it is left as it is."""

    table: SealedTable
    row: str
    column: str
    #: The id of the key that sealed it, when the value names one.
    key: str | None
    reason: str

    @property
    def label(self) -> str:
        return self.table.label(self.row)

    def to_json(self) -> dict[str, Any]:
        """`table` and `row` for every value, and `source` for a source's (what reports said before users had
        sealed values)."""
        named = {"source": self.row} if self.table is SOURCES else {}
        where = {"table": self.table.name, "row": self.row, "column": self.column}
        return {**named, **where, "key": self.key, "reason": self.reason}


@dataclass
class KeyReport:
    """What a check or a rotation found, value by value."""

    key: str
    previous_key: str | None
    #: Already under ENCRYPTION_KEY (and it opens them).
    current: int = 0
    #: Under ENCRYPTION_KEY_PREVIOUS and still there (a check; or a rotation's `limit` stopped first).
    previous: int = 0
    #: Re-encrypted (or, if stored in clear, sealed) under ENCRYPTION_KEY by this run (or, for the Worker,
    #: given an UPDATE statement).
    rotated: int = 0
    #: Stored in clear (TOTP secrets from before they were sealed) and still so: `rotate` seals them.
    clear: int = 0
    #: Changed by someone else every time this run tried (a source's id, `user NAME`): run again.
    changed: list[str] = field(default_factory=list)
    unreadable: list[Unreadable] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Every value is sealed and opens with ENCRYPTION_KEY alone: ENCRYPTION_KEY_PREVIOUS may go."""
        return not (self.previous or self.clear or self.changed or self.unreadable)

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "previous_key": self.previous_key,
            "current": self.current,
            "previous": self.previous,
            "rotated": self.rotated,
            "clear": self.clear,
            "changed": self.changed,
            "unreadable": [u.to_json() for u in self.unreadable],
            "complete": self.complete,
        }


def table_of(row: Mapping[str, Any]) -> SealedTable | None:
    """The table a row of an export comes from: the one whose key column it has (`id`: sources, `name`: users)."""
    return next((t for t in TABLES if t.key in row), None)


def values_of(rows: Iterable[Mapping[str, Any]], table: SealedTable | None = None) -> list[SealedValue]:
    """The sealed values in rows of `table.select` (NULLs are none). Without `table`, each row's own (an
    export of several tables); rows of no table are skipped."""
    found = []
    for row in rows:
        chosen = table or table_of(row)
        if chosen is not None:
            key = str(row[chosen.key])
            found += [SealedValue(chosen, key, c, str(row[c])) for c in chosen.columns if row.get(c)]
    return found


async def sealed_values(db: Database) -> list[SealedValue]:
    """Every sealed value in the database, in a stable order."""
    return [value for table in TABLES for value in values_of(await db.fetch_all(table.select), table)]


@dataclass(frozen=True, slots=True)
class _Opened:
    state: str  # "current" | "previous" | "clear" | "unreadable"
    plaintext: bytes = b""
    reason: str = ""


async def _open(cipher: Cipher, keys: Keys, value: SealedValue) -> _Opened:
    clear = value.table.clear
    if clear is not None and sealed_key_id(value.sealed) is None and clear(value.sealed):
        return _Opened("clear", value.sealed.encode())
    try:
        plaintext = await unseal(cipher, keys.current, value.sealed, keys.previous)
    except ConfigError as exc:
        return _Opened("unreadable", reason=exc.problem)
    return _Opened("current" if sealed_key_id(value.sealed) == key_id(keys.current) else "previous", plaintext)


def _unreadable(value: SealedValue, reason: str) -> Unreadable:
    return Unreadable(value.table, value.row, value.column, sealed_key_id(value.sealed), reason)


def _count_left(report: KeyReport, opened: _Opened) -> None:
    """A value this run leaves under ENCRYPTION_KEY_PREVIOUS or in clear."""
    if opened.state == "clear":
        report.clear += 1
    else:
        report.previous += 1


async def check(cipher: Cipher, keys: Keys, values: Iterable[SealedValue]) -> KeyReport:
    """Count the values each key opens, and name those neither opens. Changes nothing."""
    report = keys.report()
    for value in values:
        opened = await _open(cipher, keys, value)
        if opened.state == "current":
            report.current += 1
        elif opened.state == "unreadable":
            report.unreadable.append(_unreadable(value, opened.reason))
        else:
            _count_left(report, opened)
    return report


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
    """Re-encrypt every value under ENCRYPTION_KEY_PREVIOUS with ENCRYPTION_KEY (and seal every value still
    in clear), one compare-and-set each.

    `values` defaults to what the database holds now (a caller may pass a listing it made earlier: a stale
    one is safe, the compare-and-set notices). `limit` stops after that many re-encryptions (what is left
    is counted in `previous` or `clear`); `progress` is called with 1 after each value. A run that re-encrypted
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
    table = value.table
    for _ in range(ATTEMPTS):
        opened = await _open(cipher, keys, value)
        if opened.state == "current":
            report.current += 1
            return
        if opened.state == "unreadable":
            report.unreadable.append(_unreadable(value, opened.reason))
            return
        if stop:
            _count_left(report, opened)
            return
        resealed = await seal(cipher, keys.current, opened.plaintext)
        if await db.execute(table.update(value.column), (resealed, value.row, value.sealed)) == 1:
            report.rotated += 1
            return
        # Someone wrote the column since we read it: judge what is there now, never overwrite it.
        row = await db.fetch_one(
            f"SELECT {value.column} AS sealed FROM {table.name} WHERE {table.key} = ?", (value.row,)
        )
        if row is None or not row["sealed"]:
            return  # the row or its secret is gone: nothing left to re-encrypt
        value = replace(value, sealed=str(row["sealed"]))
    report.changed.append(value.label)


async def rotation_statements(
    cipher: Cipher, keys: Keys, values: Iterable[SealedValue]
) -> tuple[list[tuple[str, Params]], KeyReport]:
    """For a database this process cannot reach (D1): an UPDATE per value under ENCRYPTION_KEY_PREVIOUS (or
    in clear), sealed under ENCRYPTION_KEY, with the compare-and-set on the exported value (a row changed since
    the export is left alone; export and run again)."""
    report = keys.report()
    statements: list[tuple[str, Params]] = []
    for value in values:
        opened = await _open(cipher, keys, value)
        if opened.state == "current":
            report.current += 1
        elif opened.state == "unreadable":
            report.unreadable.append(_unreadable(value, opened.reason))
        else:
            resealed = await seal(cipher, keys.current, opened.plaintext)
            statements.append((value.table.update(value.column), (resealed, value.row, value.sealed)))
            report.rotated += 1
    return statements, report
