"""The audit log: who did what administrative thing, when, and from which address.

Recorded where the core performs the action (token store, source store, sync, publish, package admin), so
the CLI, the HTTP API and later the admin API audit alike. The entry point says who is acting with
`acting_as(actor, address)`; the core reads it with `current()`. One context variable rather than an
`actor=` argument threaded through every core function: the same code runs on the server and on Workers
(asyncio tasks, including work deferred with `Request.defer`, copy the context they were created in), and a
caller that forgets to say who it is still gets its action recorded (as "system") instead of a crash.

Actors: a token id (`tok_...`), `cli:<login name>` (the command line), `webhook:<provider>`, later
`user:<name>`. Nothing secret is ever stored: `clean()` refuses details that look like a secret (a token,
a URL with a password, a key named like a credential), and callers pass ids, names and URLs only.
Scheduled syncs are not administrative and are not recorded.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from .errors import InvalidInput
from .ports import Clock, Database
from .ports.database import Params

Statement = tuple[str, Params]
T = TypeVar("T")

#: Default for AUDIT_RETENTION_DAYS; 0 keeps entries forever.
DEFAULT_RETENTION_DAYS = 365
#: Actor of an action whose entry point did not say who acts (a script using the core directly).
SYSTEM = "system"

# A Composer token (pkb_ + 42 base62 characters), wherever it appears in a value.
_TOKEN = re.compile(r"pkb_[0-9A-Za-z]{20,}")
# Provider tokens and private keys that an upstream credential could be.
_OTHER_SECRETS = re.compile(
    r"(gh[pousr]_[0-9A-Za-z]{20,}|github_pat_[0-9A-Za-z_]{20,}|glpat-[0-9A-Za-z_-]{20,}|-----BEGIN [A-Z ]*PRIVATE KEY)"
)
# Detail keys that would name a secret value: such a key is refused whatever its value.
_SECRET_KEY = re.compile(r"(password|passwd|secret|token|credential|private|api_?key|authorization)", re.I)
_SAFE_KEYS = frozenset({"token_id", "token_prefix"})


class SecretInAudit(InvalidInput):
    """A value handed to the audit log looks like a secret (a programming error: it is never stored)."""


@dataclass(frozen=True, slots=True)
class Acting:
    actor: str
    address: str | None = None


_acting: ContextVar[Acting | None] = ContextVar("package_broker_audit_actor", default=None)


@contextmanager
def acting_as(actor: str, address: str | None = None) -> Iterator[Acting]:
    """Within the block (and in tasks started in it), administrative actions are recorded as `actor`."""
    who = Acting(actor, address)
    reset = _acting.set(who)
    try:
        yield who
    finally:
        _acting.reset(reset)


async def acting_in(actor: str, address: str | None, work: Awaitable[T]) -> T:
    """Await `work` as `actor`: for work run later (`Request.defer`), outside the block that started it."""
    with acting_as(actor, address):
        return await work


def current() -> Acting:
    """Who is acting here: what the entry point set, else `system`."""
    return _acting.get() or Acting(SYSTEM)


def _clean_url(value: str) -> str:
    """A URL without user name or password (sources refuse them anyway; this is the belt to those braces)."""
    parts = urlsplit(value)
    if parts.scheme and parts.netloc and "@" in parts.netloc:
        return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
    return value


def check_text(value: str) -> str:
    """Return `value` (without URL credentials), or raise SecretInAudit if it looks like a secret."""
    if _TOKEN.search(value) or _OTHER_SECRETS.search(value):
        raise SecretInAudit("refusing to write a secret to the audit log")
    return _clean_url(value)


def clean(details: dict[str, Any] | None) -> dict[str, Any] | None:
    """Check details for the audit log: plain values (text, numbers, flags, lists of them), no secrets.

    Raises:
        SecretInAudit: a key names a secret (password, token, credential, ...) or a value looks like one.
    """
    if not details:
        return None
    cleaned: dict[str, Any] = {}
    for key, value in details.items():
        if _SECRET_KEY.search(key) and key not in _SAFE_KEYS:
            raise SecretInAudit(f"refusing to write {key!r} to the audit log")
        cleaned[key] = _clean_value(value)
    return cleaned


def _clean_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return check_text(value)
    if isinstance(value, list | tuple):
        return [_clean_value(v) for v in value]
    if isinstance(value, dict):
        return clean(value)
    raise SecretInAudit(f"the audit log takes plain values, not {type(value).__name__}")


def statement(
    now: int,
    actor: str,
    action: str,
    target: str | None,
    *,
    address: str | None = None,
    details: dict[str, Any] | None = None,
) -> Statement:
    """The INSERT for one entry (checked: raises SecretInAudit rather than store something secret)."""
    checked = clean(details)
    return (
        "INSERT INTO audit_log (id, at, actor, action, target, address, details) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            # Time-ordered (entries of one second sort in the order they were made), then random.
            f"aud_{time.time_ns():016x}{secrets.token_hex(3)}",
            now,
            check_text(actor),
            action,
            check_text(target) if target is not None else None,
            address,
            json.dumps(checked, sort_keys=True, ensure_ascii=False) if checked else None,
        ),
    )


def entry(now: int, action: str, target: str | None, details: dict[str, Any] | None = None) -> Statement:
    """The INSERT for an action done by whoever is acting here (`current()`): for the core's batches."""
    who = current()
    return statement(now, who.actor, action, target, address=who.address, details=details)


@dataclass(frozen=True, slots=True)
class Entry:
    id: str
    at: int
    actor: str
    action: str
    target: str | None
    address: str | None
    details: dict[str, Any] | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Entry:
        return cls(**{**row, "details": json.loads(row["details"]) if row["details"] else None})


class Audit:
    """The audit log of one broker (`broker.audit`)."""

    def __init__(self, db: Database, clock: Clock, retention_days: int = DEFAULT_RETENTION_DAYS) -> None:
        self.db = db
        self.clock = clock
        self.retention_days = retention_days
        self._purged_at = 0

    def record(
        self,
        actor: str | None,
        action: str,
        target: str | None,
        *,
        address: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> Statement:
        """The statement recording an action, to run in the same batch as the change itself.

        `actor` None: whoever is acting here (`acting_as`), with that address unless one is given.
        """
        if actor is None:
            who = current()
            actor, address = who.actor, address or who.address
        return statement(self.clock.now(), actor, action, target, address=address, details=details)

    async def log(
        self,
        actor: str | None,
        action: str,
        target: str | None,
        *,
        address: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Record an action on its own (when the change was not one batch the entry could join)."""
        await self.db.execute(*self.record(actor, action, target, address=address, details=details))

    async def entries(
        self,
        since: int | None = None,
        action: str | None = None,
        actor: str | None = None,
        limit: int = 100,
        before: Entry | None = None,
    ) -> list[Entry]:
        """The newest entries first. `action` matches exactly, or a family with a trailing dot (`token.`).
        `before`: only entries older than that one (the next page of a listing)."""
        where: list[str] = ["1 = 1"]
        params: list[str | int | float | None] = []
        if before is not None:
            where.append("(at < ? OR (at = ? AND id < ?))")
            params += [before.at, before.at, before.id]
        if since is not None:
            where.append("at >= ?")
            params.append(since)
        if action:
            if action.endswith("."):
                where.append("substr(action, 1, ?) = ?")
                params += [len(action), action]
            else:
                where.append("action = ?")
                params.append(action)
        if actor:
            where.append("actor = ?")
            params.append(actor)
        rows = await self.db.fetch_all(
            "SELECT id, at, actor, action, target, address, details FROM audit_log "
            f"WHERE {' AND '.join(where)} ORDER BY at DESC, id DESC LIMIT ?",
            (*params, max(1, limit)),
        )
        return [Entry.from_row(row) for row in rows]

    async def get(self, entry_id: str) -> Entry | None:
        row = await self.db.fetch_one(
            "SELECT id, at, actor, action, target, address, details FROM audit_log WHERE id = ?", (entry_id,)
        )
        return Entry.from_row(row) if row else None

    async def purge(self, older_than: int) -> int:
        """Delete the entries recorded before `older_than` (Unix seconds); return how many."""
        return await self.db.execute("DELETE FROM audit_log WHERE at < ?", (older_than,))

    async def purge_expired(self) -> bool:
        """Apply AUDIT_RETENTION_DAYS: one DELETE, at most once a day per process (the scheduled sync calls
        it on every run; a Worker isolate that lives a day purges once, one that lives minutes purges once).
        Returns whether it purged."""
        now = self.clock.now()
        if self.retention_days <= 0 or now - self._purged_at < 86400:
            return False
        self._purged_at = now
        await self.purge(now - self.retention_days * 86400)
        return True


def rotated_key(now: int, key_id: str, *, details: dict[str, Any] | None = None) -> Statement:
    """The entry for `keys.rotated` (for the key rotation: put it in its batch, or run it after)."""
    return entry(now, "keys.rotated", key_id, details)
