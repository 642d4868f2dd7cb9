"""Source records: what to sync, its status, and a lease so two syncs of one source never overlap."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .. import audit
from ..errors import Conflict, InvalidInput, NotFound
from ..ports import Clock, Database
from ..ports.database import Params

#: The one source that owns uploaded archives.
UPLOADS_URL = "upload"
#: A lease not renewed for this long is presumed dead (its process crashed) and may be taken over. A running
#: sync renews it every LEASE_SECONDS / 3.
LEASE_SECONDS = 90
_COLUMNS = (
    "id, kind, url, credentials, options, status, status_message, last_synced_at, sync_cursor, enabled, "
    "sync_interval, created_at, updated_at, sync_history"
)
#: Sync outcomes a source keeps (sources.sync_history), and how much of each message.
HISTORY_LENGTH = 20
HISTORY_MESSAGE_CHARS = 500


@dataclass(frozen=True, slots=True)
class RefState:
    """What a sync saw of one ref (a git tag or branch, or an upstream metadata file) and why it skipped it."""

    ref: str
    status: str  # "ok" | "skipped"
    reason: str | None = None
    commit: str = ""
    package: str | None = None
    version_normalized: str | None = None
    #: Last-Modified of an upstream file, sent back as If-Modified-Since.
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class Lease:
    """The right to sync one source, held by one sync run until it finishes or stops renewing it."""

    source_id: str
    owner: str


@dataclass(frozen=True, slots=True)
class Source:
    id: str
    kind: str
    url: str
    #: Encrypted upstream credentials (see package_broker.crypto), or None.
    credentials: str | None
    #: Kind-specific options as JSON (e.g. the packages a Composer source mirrors), or None.
    options: str | None
    status: str
    status_message: str | None
    last_synced_at: int | None
    #: Where an unfinished sync pass stopped (the last package it completed); None: no pass under way.
    sync_cursor: str | None
    #: False: the scheduler leaves it alone (what it serves stays served).
    enabled: bool
    #: Seconds between scheduled syncs of this source; None: SYNC_INTERVAL.
    sync_interval: int | None
    created_at: int
    updated_at: int
    #: The newest sync outcomes, newest first, as JSON (see `history`); None before the first.
    sync_history: str | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Source:
        return cls(**{**row, "enabled": bool(row["enabled"])})

    def history(self) -> list[dict[str, Any]]:
        """The newest sync outcomes, newest first: {"started_at", "finished_at", "status", "message"}."""
        try:
            runs = json.loads(self.sync_history) if self.sync_history else []
        except ValueError:
            return []
        return [run for run in runs if isinstance(run, dict)] if isinstance(runs, list) else []

    def history_with(self, started_at: int, finished_at: int, status: str, message: str | None) -> str:
        """`sync_history` with one more outcome in front, at most HISTORY_LENGTH long."""
        run = {
            "started_at": started_at,
            "finished_at": finished_at,
            "status": status,
            "message": message[:HISTORY_MESSAGE_CHARS] if message else None,
        }
        return json.dumps([run, *self.history()][:HISTORY_LENGTH], separators=(",", ":"))

    def option(self, name: str) -> Any:
        return (json.loads(self.options) if self.options else {}).get(name)


#: Query parameters that carry a secret: they would be stored, listed and logged in clear with the URL.
_SECRET_PARAMETER = re.compile(r"(token|key|secret|pass|auth|sig|credential|session)", re.ASCII | re.IGNORECASE)


def check_source_url(url: str) -> str:
    """Refuse a source URL that carries a secret, which would be stored and shown in clear.

    Credentials go to `credentials` (sealed with ENCRYPTION_KEY); the CLI moves `user:password@` of an
    https URL there before this check. An SSH URL authenticates with the server's key, never a password.

    Raises:
        InvalidInput: the URL holds a password or a secret-looking query parameter.
    """
    parts = urlsplit(url)
    if parts.password is not None:
        if parts.scheme in ("http", "https"):
            raise InvalidInput("put the password in the source's credentials, not in the URL")
        raise InvalidInput(
            f"{parts.scheme} URLs authenticate with the server's SSH key, not a password: remove the password "
            f"from the URL ({parts.scheme}://{parts.username}@{parts.hostname}/...)"
        )
    for name, _ in parse_qsl(parts.query, keep_blank_values=True):
        if _SECRET_PARAMETER.search(name):
            raise InvalidInput(
                f"the URL's query parameter {name!r} looks like a secret; pass it as credentials "
                "(--username/--password-env) so it is stored encrypted, not in the URL"
            )
    return url


def prepare_source(
    now: int,
    kind: str,
    url: str,
    credentials: str | None = None,
    options: dict[str, Any] | None = None,
    webhook_secret: str | None = None,
) -> tuple[str, tuple[str, Params]]:
    """Validate a new source; return its id and the INSERT that registers it (see `SourceStore.add`).
    `credentials` and `webhook_secret` come sealed."""
    from .kinds import KINDS  # the table imports this module

    if kind not in KINDS:
        raise InvalidInput(f"unknown source kind {kind!r}; use one of: {', '.join(KINDS)}")
    check_source_url(url)
    source_id = "src_" + secrets.token_hex(5)
    insert = (
        "INSERT INTO sources (id, kind, url, credentials, options, webhook_secret, status, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
        (source_id, kind, url, credentials, json.dumps(options) if options else None, webhook_secret, now, now),
    )
    return source_id, insert


def _audit_update(now: int, source_id: str, changes: dict[str, Any]) -> tuple[str, Params]:
    """The audit entry for `SourceStore.update`: enabled/disabled alone, else edited (never the credentials)."""
    if set(changes) == {"enabled"}:
        return audit.entry(now, "source.enabled" if changes["enabled"] else "source.disabled", source_id)
    shown: dict[str, Any] = {k: changes[k] for k in ("url", "sync_interval", "enabled") if k in changes}
    changed = sorted(k for k in changes if k not in ("sync_cursor", "upstream_state"))
    return audit.entry(now, "source.edited", source_id, {"changed": changed, **shown})


class SourceStore:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def add(
        self, kind: str, url: str, credentials: str | None = None, options: dict[str, Any] | None = None
    ) -> Source:
        """Register a source. Raises Conflict if the same kind and URL is already registered."""
        now = self.clock.now()
        source_id, insert = prepare_source(now, kind, url, credentials, options)
        if await self.db.fetch_one("SELECT id FROM sources WHERE kind = ? AND url = ?", (kind, url)):
            raise Conflict(f"a {kind} source for {url} already exists")
        await self.db.batch([insert, audit.entry(now, "source.added", source_id, {"kind": kind, "url": url})])
        return await self.get(source_id)

    async def uploads(self) -> Source:
        """Return the source that owns uploaded archives, creating it on first use."""
        row = await self.db.fetch_one(
            f"SELECT {_COLUMNS} FROM sources WHERE kind = 'artifact' AND url = ?", (UPLOADS_URL,)
        )
        if row:
            return Source.from_row(row)
        now = self.clock.now()
        await self.db.execute(
            "INSERT INTO sources (id, kind, url, status, created_at, updated_at) VALUES (?, 'artifact', ?, 'ok', ?, ?) "
            "ON CONFLICT (kind, url) DO NOTHING",
            ("src_uploads", UPLOADS_URL, now, now),
        )
        return await self.uploads()

    async def get(self, source_id: str) -> Source:
        found = await self.find(source_id)
        if found is None:
            raise NotFound(f"no source with id {source_id}; see `package-broker source list`")
        return found

    async def find(self, source_id: str) -> Source | None:
        row = await self.db.fetch_one(f"SELECT {_COLUMNS} FROM sources WHERE id = ?", (source_id,))
        return Source.from_row(row) if row else None

    async def webhook_secret(self, source: Source, unseal: Callable[[str], Awaitable[dict[str, str]]]) -> str | None:
        """The source's webhook secret in clear, or None when it has none."""
        row = await self.db.fetch_one("SELECT webhook_secret FROM sources WHERE id = ?", (source.id,))
        if not row or not row["webhook_secret"]:
            return None
        return (await unseal(row["webhook_secret"])).get("secret")

    async def set_webhook_secret(self, source_id: str, sealed: str | None, *, renewed: bool = True) -> None:
        """Store a source's (sealed) webhook secret; `renewed` records it in the audit log (not on `add`)."""
        now = self.clock.now()
        update = ("UPDATE sources SET webhook_secret = ?, updated_at = ? WHERE id = ?", (sealed, now, source_id))
        await self.db.batch([update, audit.entry(now, "source.webhook_renewed", source_id)] if renewed else [update])

    async def first_delivery(self, source_id: str, delivery: str, *, keep_days: int) -> bool:
        """Record a webhook delivery id; False if it was already recorded (a replay). Old ids are dropped."""
        now = self.clock.now()
        await self.db.execute(
            "DELETE FROM webhook_deliveries WHERE source_id = ? AND received_at < ?",
            (source_id, now - keep_days * 86400),
        )
        return (
            await self.db.execute(
                "INSERT INTO webhook_deliveries (source_id, delivery, received_at) VALUES (?, ?, ?) "
                "ON CONFLICT (source_id, delivery) DO NOTHING",
                (source_id, delivery[:200], now),
            )
            == 1
        )

    async def all(self) -> list[Source]:
        rows = await self.db.fetch_all(f"SELECT {_COLUMNS} FROM sources ORDER BY created_at, id")
        return [Source.from_row(row) for row in rows]

    async def due(self, interval: int) -> list[Source]:
        """Enabled sources to sync now: unfinished passes first, then never synced, then least recently synced.

        A source waits its own `sync_interval` (else `interval`, SYNC_INTERVAL) after its last complete sync,
        less five seconds so that a sync on a timer of the same period is never just too early. Uploads need
        no sync.
        """
        rows = await self.db.fetch_all(
            f"SELECT {_COLUMNS} FROM sources WHERE kind <> 'artifact' AND enabled = 1 AND (sync_cursor IS NOT NULL "
            "OR last_synced_at IS NULL OR last_synced_at <= ? - COALESCE(sync_interval, ?)) "
            "ORDER BY sync_cursor IS NULL, last_synced_at IS NOT NULL, last_synced_at, id",
            (self.clock.now() + 5, interval),
        )
        return [Source.from_row(row) for row in rows]

    async def update(
        self,
        source_id: str,
        *,
        url: str | None = None,
        credentials: str | None = None,
        forget_credentials: bool = False,
        sync_interval: int | None = None,
        enabled: bool | None = None,
    ) -> Source:
        """Change what is given; a new URL or new credentials make the next sync read everything again."""
        source = await self.get(source_id)
        if source.kind == "artifact":
            raise InvalidInput("the uploads source has nothing to edit; manage its packages with `package`")
        changes: dict[str, Any] = {}
        if url is not None and url != source.url:
            if source.option("repository"):
                raise InvalidInput(
                    f"a {source.kind} source is one repository: remove it and add the other repository instead"
                )
            check_source_url(url)
            if await self.db.fetch_one("SELECT id FROM sources WHERE kind = ? AND url = ?", (source.kind, url)):
                raise Conflict(f"a {source.kind} source for {url} already exists")
            changes["url"] = url
        if credentials is not None or forget_credentials:
            changes["credentials"] = credentials
        if url is not None or credentials is not None or forget_credentials:
            # What was read with the old URL or credentials (refs, a provider's stored listing) is read again.
            changes["sync_cursor"] = None
            changes["upstream_state"] = None
        if sync_interval is not None:
            if sync_interval < 60:
                raise InvalidInput("the interval is at least 60 seconds (to stop scheduled syncs: source disable)")
            changes["sync_interval"] = sync_interval
        if enabled is not None:
            changes["enabled"] = int(enabled)
        if changes:
            now = self.clock.now()
            assignments = ", ".join(f"{column} = ?" for column in changes)
            update = f"UPDATE sources SET {assignments}, updated_at = ? WHERE id = ?"
            statements: list[tuple[str, Params]] = [(update, (*changes.values(), now, source_id))]
            if "url" in changes or "credentials" in changes:
                # What was read from the old place says nothing about the new one.
                statements.append(("DELETE FROM source_refs WHERE source_id = ?", (source_id,)))
            statements.append(_audit_update(now, source_id, changes))
            await self.db.batch(statements)
        return await self.get(source_id)

    async def acquire(self, source_id: str) -> Lease | None:
        """Take the sync lease, or None if another sync holds a live one on this source."""
        now = self.clock.now()
        lease = Lease(source_id, secrets.token_hex(8))
        changed = await self.db.execute(
            "UPDATE sources SET sync_started_at = ?, sync_lease = ? "
            "WHERE id = ? AND (sync_started_at IS NULL OR sync_started_at < ?)",
            (now, lease.owner, source_id, now - LEASE_SECONDS),
        )
        return lease if changed == 1 else None

    async def renew(self, lease: Lease) -> bool:
        """Extend a lease we hold; False if it was lost (it lapsed and another sync took it)."""
        changed = await self.db.execute(
            "UPDATE sources SET sync_started_at = ? WHERE id = ? AND sync_lease = ?",
            (self.clock.now(), lease.source_id, lease.owner),
        )
        return changed == 1

    async def finish(
        self, lease: Lease, status: str, message: str | None, cursor: str | None = None, history: str | None = None
    ) -> bool:
        """Record a sync's outcome and release the lease. False (nothing written) if the lease was lost.

        A "partial" sync (out of budget) keeps `cursor`, where the next run continues, and does not count
        as a completed sync; any other outcome ends the pass. `history`: the source's new `sync_history`
        (Source.history_with), written by the same statement; None leaves it as it is.
        """
        now = self.clock.now()
        if status == "partial":
            sql = (
                "UPDATE sources SET status = ?, status_message = ?, sync_cursor = ?, updated_at = ?, "
                "sync_started_at = NULL, sync_lease = NULL, sync_history = COALESCE(?, sync_history) "
                "WHERE id = ? AND sync_lease = ?"
            )
            params: Params = (status, message, cursor, now, history, lease.source_id, lease.owner)
        else:
            sql = (
                "UPDATE sources SET status = ?, status_message = ?, last_synced_at = ?, sync_cursor = NULL, "
                "updated_at = ?, sync_started_at = NULL, sync_lease = NULL, sync_history = COALESCE(?, sync_history) "
                "WHERE id = ? AND sync_lease = ?"
            )
            params = (status, message, now, now, history, lease.source_id, lease.owner)
        return await self.db.execute(sql, params) == 1

    def ref_statements(
        self, source_id: str, states: list[RefState], *, complete: bool = True
    ) -> list[tuple[str, Params]]:
        """Statements recording what a sync saw per ref; `complete`: these are all of the source's refs."""
        now = self.clock.now()
        statements: list[tuple[str, Params]] = (
            [("DELETE FROM source_refs WHERE source_id = ?", (source_id,))] if complete else []
        )
        statements += [
            (
                "INSERT INTO source_refs (source_id, ref, commit_sha, status, reason, package, version_normalized, "
                "last_modified, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (source_id, ref) DO UPDATE "
                "SET commit_sha = excluded.commit_sha, status = excluded.status, reason = excluded.reason, "
                "package = excluded.package, version_normalized = excluded.version_normalized, "
                "last_modified = excluded.last_modified, updated_at = excluded.updated_at",
                (source_id, s.ref, s.commit, s.status, s.reason, s.package, s.version_normalized, s.last_modified, now),
            )
            for s in states
        ]
        return statements

    async def record(self, statements: list[tuple[str, Params]]) -> None:
        """Run statements built by `ref_statements` on their own (when no catalog write carries them)."""
        if statements:
            await self.db.batch(statements)

    async def forget_refs(self, source_id: str, refs: list[str]) -> None:
        """Drop what earlier syncs recorded for these refs (they no longer exist upstream)."""
        await self.db.batch([("DELETE FROM source_refs WHERE source_id = ? AND ref = ?", (source_id, r)) for r in refs])

    def upstream_state_statement(self, source_id: str, values: dict[str, Any]) -> tuple[str, Params]:
        """The statement that keeps what a repository remembers between syncs (ETags, the last listing)."""
        return ("UPDATE sources SET upstream_state = ? WHERE id = ?", (json.dumps(values), source_id))

    async def upstream_state(self, source_id: str) -> dict[str, Any]:
        row = await self.db.fetch_one("SELECT upstream_state FROM sources WHERE id = ?", (source_id,))
        try:
            value = json.loads(row["upstream_state"]) if row and row["upstream_state"] else {}
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    async def refs(self, source_id: str) -> dict[str, dict[str, Any]]:
        """Return what the last sync recorded per ref: commit, status, reason, package, version."""
        rows = await self.db.fetch_all(
            "SELECT ref, commit_sha, status, reason, package, version_normalized, last_modified FROM source_refs "
            "WHERE source_id = ?",
            (source_id,),
        )
        return {row["ref"]: row for row in rows}
