"""Browser sessions: a random 32-byte id in a cookie, only its SHA-256 in the database.

A session ends at the first of: its absolute expiry (SESSION_HOURS after sign-in), SESSION_IDLE_MINUTES
without a request, logout, logout everywhere, a password change, or the user's removal. `last_seen_at` is
written at most once a minute per session (after the response where the runtime allows), so reading the
dashboard costs one indexed read per API call and almost no writes.

Each session has its own CSRF token, returned in the JSON of a sign-in (never in a cookie), which every
write must send back in `X-CSRF-Token` (accounts/web.py).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .. import audit
from ..ports import Clock, Database
from ..ports.database import Params
from .users import Account

#: `last_seen_at` is written at most this often per session.
TOUCH_SECONDS = 60
#: Expired sessions are deleted when a new one starts, at most this often per process.
_PURGE_SECONDS = 3600


@dataclass(frozen=True, slots=True)
class Session:
    id_hash: str
    user_name: str
    csrf_token: str
    created_at: int
    last_seen_at: int
    expires_at: int


def id_hash(session_id: str) -> str:
    """What is stored for a cookie's value: its SHA-256 (the value carries 256 random bits)."""
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def _random() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii").rstrip("=")


def well_formed(session_id: str) -> bool:
    """43 URL-safe base64 characters: anything else is refused without a database read."""
    return len(session_id) == 43 and all(c.isalnum() or c in "-_" for c in session_id)


class SessionStore:
    """`broker.sessions`."""

    def __init__(self, db: Database, clock: Clock, *, hours: int, idle_minutes: int) -> None:
        self.db = db
        self.clock = clock
        self.lifetime = hours * 3600
        self.idle = idle_minutes * 60
        self._purged_at = 0

    async def start(
        self, user_name: str, address: str | None, also: Sequence[tuple[str, Params]] = ()
    ) -> tuple[str, Session]:
        """A new session for `user_name`: (the cookie's value, shown to nobody else, and the session).
        `also`: statements to run in the same batch (the sign-in's own record and audit entry)."""
        now = self.clock.now()
        session_id = _random()
        session = Session(id_hash(session_id), user_name, _random(), now, now, now + self.lifetime)
        statements: list[tuple[str, Params]] = [
            (
                "INSERT INTO user_sessions (id_hash, user_name, csrf_token, created_at, last_seen_at, expires_at, "
                "address) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (session.id_hash, user_name, session.csrf_token, now, now, session.expires_at, address),
            ),
            *also,
        ]
        if now - self._purged_at >= _PURGE_SECONDS:
            self._purged_at = now
            statements.append(
                (
                    "DELETE FROM user_sessions WHERE expires_at <= ? OR last_seen_at <= ?",
                    (now, now - self.idle),
                )
            )
        await self.db.batch(statements)
        return session_id, session

    async def find(self, session_id: str) -> tuple[Session, Account] | None:
        """The live session behind a cookie's value and its user's account (one query), or None."""
        if not well_formed(session_id):
            return None
        row = await self.db.fetch_one(
            "SELECT s.id_hash, s.user_name, s.csrf_token, s.created_at AS session_created_at, s.last_seen_at, "
            "s.expires_at, u.name, u.role, u.password_hash, u.totp_secret, u.totp_pending, u.totp_last_step, "
            "u.created_at, u.last_login_at "
            "FROM user_sessions s JOIN users u ON u.name = s.user_name WHERE s.id_hash = ?",
            (id_hash(session_id),),
        )
        if row is None:
            return None
        session = _session(row)
        now = self.clock.now()
        if session.expires_at <= now or session.last_seen_at + self.idle <= now:
            return None
        return session, Account.from_row(row)

    def due_for_touch(self, session: Session) -> bool:
        return self.clock.now() - session.last_seen_at >= TOUCH_SECONDS

    async def touch(self, session: Session) -> None:
        await self.db.execute(
            "UPDATE user_sessions SET last_seen_at = ? WHERE id_hash = ?", (self.clock.now(), session.id_hash)
        )

    async def end(self, session_hash: str, user_name: str) -> None:
        """Log one session out (recorded in the audit log as the acting user's)."""
        await self.db.batch(
            [
                ("DELETE FROM user_sessions WHERE id_hash = ?", (session_hash,)),
                audit.entry(self.clock.now(), "user.logout", user_name),
            ]
        )

    async def end_all(self, user_name: str, *, action: str = "user.logout_all") -> int:
        """End every session of a user (logout everywhere); return how many were live."""
        now = self.clock.now()
        row = await self.db.fetch_one(
            "SELECT COUNT(*) AS n FROM user_sessions WHERE user_name = ? AND expires_at > ?", (user_name, now)
        )
        await self.db.batch(
            [
                ("DELETE FROM user_sessions WHERE user_name = ?", (user_name,)),
                audit.entry(now, action, user_name),
            ]
        )
        return int(row["n"]) if row else 0


def _session(row: dict[str, Any]) -> Session:
    return Session(
        id_hash=row["id_hash"],
        user_name=row["user_name"],
        csrf_token=row["csrf_token"],
        created_at=int(row["session_created_at"]),
        last_seen_at=int(row["last_seen_at"]),
        expires_at=int(row["expires_at"]),
    )
