"""All SQL about advisories: the operator's (origin 'operator') and copies of a mirror's upstream ones
(origin = the mirror's source id), with when each package was last asked upstream."""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .. import audit
from ..cache import bump_statement
from ..ports import Clock, Database
from ..ports.database import Params

OPERATOR = "operator"
#: Names per statement (D1 binds at most 100 parameters).
_CHUNK = 90
#: The fields of an advisory Composer reads (Composer\Advisory\PartialSecurityAdvisory::create), kept from an
#: upstream answer; anything else is dropped.
FIELDS = (
    "advisoryId",
    "packageName",
    "remoteId",
    "title",
    "link",
    "cve",
    "affectedVersions",
    "source",
    "reportedAt",
    "composerRepository",
    "severity",
    "sources",
)
#: Longest text kept in one field of an upstream advisory.
_MAX_TEXT = 4096


@dataclass(frozen=True, slots=True)
class Advisory:
    origin: str
    advisory_id: str
    package: str
    data: dict[str, Any]
    created_at: int


def new_advisory_id() -> str:
    """An id in packagist's PKSA-xxxx-xxxx-xxxx shape, marked as ours."""
    raw = secrets.token_hex(6)
    return f"PKBSA-{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def clean(data: object, name: str) -> dict[str, Any] | None:
    """An upstream advisory reduced to the fields Composer reads, or None when it is unusable (Composer
    needs `advisoryId` and `affectedVersions`; a full one also `title`, `sources`, `reportedAt`)."""
    if not isinstance(data, dict):
        return None
    if not isinstance(data.get("advisoryId"), str) or not isinstance(data.get("affectedVersions"), str):
        return None
    kept: dict[str, Any] = {}
    for key in FIELDS:
        value = data.get(key)
        if isinstance(value, str):
            kept[key] = value[:_MAX_TEXT]
        elif key == "sources" and isinstance(value, list):
            kept[key] = [
                {k: str(v)[:_MAX_TEXT] for k, v in s.items() if k in ("name", "remoteId")}
                for s in value[:20]
                if isinstance(s, dict)
            ]
        elif value is None and key in data:
            kept[key] = None
    kept["packageName"] = name
    if "sources" in kept or "title" in kept or "reportedAt" in kept:
        # A full advisory needs all three, or Composer's constructor fails on it.
        kept.setdefault("title", kept["advisoryId"])
        kept.setdefault("sources", [])
        kept.setdefault("reportedAt", "1970-01-01 00:00:00")
    return kept


class AdvisoryStore:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def for_packages(self, names: Sequence[str], origins: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
        """The advisories of `names`, each from its origin only (`origins`: name -> 'operator' or a source id)."""
        found: dict[str, list[dict[str, Any]]] = {}
        wanted = [n for n in names if n in origins]
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            rows = await self.db.fetch_all(
                "SELECT origin, package, data FROM advisories WHERE package IN (" + ", ".join("?" * len(chunk)) + ") "
                "ORDER BY package, advisory_id",
                tuple(chunk),
            )
            for row in rows:
                if origins.get(row["package"]) == row["origin"]:
                    found.setdefault(row["package"], []).append(json.loads(row["data"]))
        return found

    async def checked(self, source_id: str, names: Sequence[str]) -> dict[str, int]:
        """When the mirror last asked its upstream about each of `names` (absent: never)."""
        checked: dict[str, int] = {}
        for start in range(0, len(names), _CHUNK):
            chunk = list(names[start : start + _CHUNK])
            rows = await self.db.fetch_all(
                "SELECT package, checked_at FROM advisory_checks WHERE source_id = ? AND package IN ("
                + ", ".join("?" * len(chunk))
                + ")",
                (source_id, *chunk),
            )
            checked.update({row["package"]: int(row["checked_at"]) for row in rows})
        return checked

    async def replace_upstream(
        self, source_id: str, names: Sequence[str], advisories: dict[str, list[dict[str, Any]]]
    ) -> None:
        """Store what the upstream said about `names` (all of them: none listed means none), in one batch."""
        now = self.clock.now()
        statements: list[tuple[str, Params]] = []
        for start in range(0, len(names), _CHUNK):
            chunk = list(names[start : start + _CHUNK])
            statements.append(
                (
                    "DELETE FROM advisories WHERE origin = ? AND package IN (" + ", ".join("?" * len(chunk)) + ")",
                    (source_id, *chunk),
                )
            )
        for name in names:
            for data in advisories.get(name, []):
                statements.append(
                    (
                        "INSERT INTO advisories (origin, advisory_id, package, data, created_at) "
                        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (origin, advisory_id, package) "
                        "DO UPDATE SET data = excluded.data",
                        (source_id, data["advisoryId"], name, json.dumps(data, separators=(",", ":")), now),
                    )
                )
            statements.append(
                (
                    "INSERT INTO advisory_checks (source_id, package, checked_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (source_id, package) DO UPDATE SET checked_at = excluded.checked_at",
                    (source_id, name, now),
                )
            )
        if statements:
            await self.db.batch(statements)

    # -- the operator's advisories ----------------------------------------------------------------

    async def add(self, package: str, data: dict[str, Any]) -> Advisory:
        """Record an advisory for a private package (`data` as Composer reads it, without the id)."""
        now = self.clock.now()
        advisory_id = new_advisory_id()
        data = {"advisoryId": advisory_id, "packageName": package, **data}
        await self.db.batch(
            [
                (
                    "INSERT INTO advisories (origin, advisory_id, package, data, created_at) VALUES (?, ?, ?, ?, ?)",
                    (OPERATOR, advisory_id, package, json.dumps(data, separators=(",", ":")), now),
                ),
                bump_statement(now),
                audit.entry(
                    now, "advisory.added", advisory_id, {"package": package, "affected": data.get("affectedVersions")}
                ),
            ]
        )
        return Advisory(OPERATOR, advisory_id, package, data, now)

    async def remove(self, advisory_id: str) -> bool:
        row = await self.db.fetch_one(
            "SELECT advisory_id, package FROM advisories WHERE origin = ? AND advisory_id = ?", (OPERATOR, advisory_id)
        )
        if row is None:
            return False
        now = self.clock.now()
        await self.db.batch(
            [
                ("DELETE FROM advisories WHERE origin = ? AND advisory_id = ?", (OPERATOR, advisory_id)),
                bump_statement(now),
                audit.entry(now, "advisory.removed", advisory_id, {"package": row["package"]}),
            ]
        )
        return True

    async def list(self, package: str | None = None, *, operator_only: bool = False) -> list[Advisory]:
        sql = "SELECT origin, advisory_id, package, data, created_at FROM advisories"
        clauses: list[str] = []
        params: list[Any] = []
        if package:
            clauses.append("package = ?")
            params.append(package)
        if operator_only:
            clauses.append("origin = ?")
            params.append(OPERATOR)
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        rows = await self.db.fetch_all(sql + " ORDER BY package, created_at", tuple(params))
        return [
            Advisory(r["origin"], r["advisory_id"], r["package"], json.loads(r["data"]), int(r["created_at"]))
            for r in rows
        ]
