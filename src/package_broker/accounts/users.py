"""Dashboard users: who they are (`User`, what the API shows) and how they are stored (`UserStore`).

Every change that a concurrent change could undo is decided by the database: the last admin cannot be
removed or demoted (the statement only matches while another admin exists), the first admin is created only
while no user exists, a TOTP step is accepted only if it is newer than the last one used, and a recovery
code only by the DELETE that removes it. The first two count rows, which PostgreSQL's READ COMMITTED would
let two transactions do at once (each demoting the other admin: none left), so they run in a transaction
that first takes a row lock (`_LOCK`): the second waits, and its next statement sees what the first did.
SQLite and D1 write one transaction at a time anyway.

TOTP secrets are stored sealed under ENCRYPTION_KEY (accounts/sealed.py); an `Account` carries them as
stored, and they are opened only to check a code.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from typing import Any, Literal

from .. import audit
from ..errors import ConfigError, Conflict, InvalidInput, NotFound
from ..ports import Clock, Database
from ..ports.database import Params
from ..ports.kdf import Kdf
from . import passwords, recovery, totp
from .sealed import TotpSecrets

log = logging.getLogger("package_broker.accounts")

Role = Literal["admin", "viewer"]
ROLES: tuple[Role, ...] = ("admin", "viewer")
_NAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")
_COLUMNS = "name, role, password_hash, totp_secret, totp_pending, totp_last_step, created_at, last_login_at"
# Matches a row only while another admin would remain (or the row is not an admin's).
_NOT_LAST_ADMIN = "(role <> 'admin' OR (SELECT COUNT(*) FROM users WHERE role = 'admin') > 1)"


def _lock(now: int) -> tuple[str, Params]:
    """The statement that serialises guarded user changes (an upsert of one row: a row lock on PostgreSQL)."""
    return (
        "INSERT INTO broker_state (name, value, updated_at) VALUES ('accounts', '', ?) "
        "ON CONFLICT (name) DO UPDATE SET updated_at = excluded.updated_at",
        (now,),
    )


@dataclass(frozen=True, slots=True)
class User:
    """A dashboard user as the API shows it: never a hash or a secret. Times are Unix seconds."""

    name: str
    role: Role
    totp_enabled: bool
    created_at: int
    last_login_at: int | None

    def is_admin(self) -> bool:
        return self.role == "admin"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role,
            "totp_enabled": self.totp_enabled,
            "created_at": self.created_at,
            "last_login_at": self.last_login_at,
        }


@dataclass(frozen=True, slots=True)
class Account:
    """A user's stored row, secrets included (TOTP secrets as stored: sealed, or legacy clear): stays inside
    accounts/."""

    user: User
    password_hash: str
    totp_secret: str | None
    totp_pending: str | None
    totp_last_step: int | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Account:
        user = User(
            name=row["name"],
            role=row["role"],
            totp_enabled=row["totp_secret"] is not None,
            created_at=int(row["created_at"]),
            last_login_at=int(row["last_login_at"]) if row["last_login_at"] is not None else None,
        )
        step = row["totp_last_step"]
        return cls(user, row["password_hash"], row["totp_secret"], row["totp_pending"], int(step) if step else None)


def check_name(name: str) -> str:
    """A user name: 1-64 lower-case letters, digits and `._@-`, starting with a letter or digit."""
    if not _NAME.match(name):
        raise InvalidInput(
            f"invalid user name {name[:80]!r}: use 1-64 lower-case letters, digits, '.', '_', '@' or '-', "
            "starting with a letter or digit"
        )
    return name


def is_name(name: str) -> bool:
    """True if `name` could be a user's (a sign-in with any other name needs no database read)."""
    return _NAME.match(name) is not None


def check_role(role: str) -> Role:
    if role not in ROLES:
        raise InvalidInput(f"role must be admin or viewer, not {role[:40]!r}")
    return role


class UserStore:
    """`broker.users`. Password work goes through the Kdf port (a thread on the server, WebCrypto on Workers)."""

    def __init__(self, db: Database, clock: Clock, kdf: Kdf | None, iterations: int, secrets: TotpSecrets) -> None:
        self.db = db
        self.clock = clock
        self._kdf = kdf
        self.iterations = iterations
        #: Seals TOTP secrets for storage and opens them to check a code.
        self.secrets = secrets

    @property
    def kdf(self) -> Kdf:
        if self._kdf is None:
            raise ConfigError("PASSWORD_ITERATIONS", "this runtime provides no PBKDF2 implementation")
        return self._kdf

    # -- reading --------------------------------------------------------------------------------

    async def account(self, name: str) -> Account | None:
        if not is_name(name):  # nobody has it; hostile text (lone surrogates) never reaches the database
            return None
        row = await self.db.fetch_one(f"SELECT {_COLUMNS} FROM users WHERE name = ?", (name,))
        return Account.from_row(row) if row else None

    async def get(self, name: str) -> User:
        found = await self.account(name)
        if found is None:
            raise NotFound(f"no user named {name[:80]!r}")
        return found.user

    async def all(self) -> list[User]:
        rows = await self.db.fetch_all(f"SELECT {_COLUMNS} FROM users ORDER BY name")
        return [Account.from_row(row).user for row in rows]

    async def exists(self) -> bool:
        """True once any user exists (then first-run setup is over)."""
        return await self.db.fetch_one("SELECT name FROM users LIMIT 1") is not None

    # -- passwords ------------------------------------------------------------------------------

    async def hash(self, password: str) -> str:
        passwords.check_policy(password)
        return await passwords.hash_password(self.kdf, password, self.iterations)

    async def verify(self, account: Account | None, password: str) -> passwords.Verified:
        """Check a password; for an unknown name (None) the same work is done and it fails."""
        return await passwords.verify(self.kdf, password, account.password_hash if account else None, self.iterations)

    # -- changing -------------------------------------------------------------------------------

    async def create(self, name: str, password: str, role: str, *, first: bool = False) -> User:
        """Create a user. `first`: only while no user exists at all (first-run setup), else Conflict.

        Raises:
            InvalidInput: bad name, role or password. Conflict: the name is taken (or, with `first`, a
            user exists already).
        """
        check_name(name)
        check_role(role)
        password_hash = await self.hash(password)
        now = self.clock.now()
        values: Params = (name, role, password_hash, now, now)
        insert = "INSERT INTO users (name, role, password_hash, created_at, updated_at) "
        if first:
            await self.db.batch(
                [
                    _lock(now),
                    (
                        insert + "SELECT ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM users) ON CONFLICT DO NOTHING",
                        values,
                    ),
                ]
            )
            made = await self.account(name)  # ours only if it has our hash (the salt is random)
            if made is None or made.password_hash != password_hash:
                raise Conflict("a user exists already")
        elif await self.db.execute(insert + "VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING", values) != 1:
            raise Conflict(f"a user named {name!r} exists already")
        await self.db.execute(*audit.entry(now, "user.created", name, {"role": role, "first_admin": first}))
        return await self.get(name)

    async def remove(self, name: str) -> None:
        """Remove a user with their sessions and recovery codes. The last admin cannot be removed (Conflict)."""
        await self.get(name)
        now = self.clock.now()
        await self.db.batch([_lock(now), (f"DELETE FROM users WHERE name = ? AND {_NOT_LAST_ADMIN}", (name,))])
        if await self.account(name) is not None:
            raise Conflict(f"{name} is the last admin; make another user admin first")
        await self.db.batch(
            [
                ("DELETE FROM user_sessions WHERE user_name = ?", (name,)),
                ("DELETE FROM user_recovery_codes WHERE user_name = ?", (name,)),
                audit.entry(now, "user.removed", name),
            ]
        )

    async def set_role(self, name: str, role: str) -> User:
        """Change a user's role. The last admin cannot be demoted (Conflict)."""
        check_role(role)
        before = await self.get(name)
        if before.role == role:
            return before
        now = self.clock.now()
        update = f"UPDATE users SET role = ?, updated_at = ? WHERE name = ? AND {_NOT_LAST_ADMIN}"
        await self.db.batch([_lock(now), (update, (role, now, name))])
        after = await self.get(name)
        if after.role != role:
            raise Conflict(f"{name} is the last admin; make another user admin first")
        await self.db.execute(*audit.entry(now, "user.role_changed", name, {"role": role, "was": before.role}))
        return after

    async def set_password(self, name: str, password: str, *, keep_session: str | None = None) -> None:
        """Set a new password and end every session of the user but `keep_session` (a session's id hash:
        the one that changed its own password stays signed in)."""
        await self.get(name)
        password_hash = await self.hash(password)
        now = self.clock.now()
        await self.db.batch(
            [
                ("UPDATE users SET password_hash = ?, updated_at = ? WHERE name = ?", (password_hash, now, name)),
                ("DELETE FROM user_sessions WHERE user_name = ? AND id_hash <> ?", (name, keep_session or "")),
                audit.entry(now, "user.password_changed", name),
            ]
        )

    async def logged_in(self, account: Account, password: str, outdated: bool) -> tuple[User, tuple[str, Params]]:
        """A successful login: the user as it now is, and the statement recording it (for the caller's batch,
        with the new session: a sign-in costs one read and one write). A hash made with other iterations is
        replaced by a current one (unless the password changed meanwhile)."""
        now = self.clock.now()
        name = account.user.name
        user = replace(account.user, last_login_at=now)
        if not outdated:
            return user, ("UPDATE users SET last_login_at = ? WHERE name = ?", (now, name))
        new_hash = await passwords.hash_password(self.kdf, password, self.iterations)
        return user, (
            "UPDATE users SET last_login_at = ?, password_hash = ? WHERE name = ? AND password_hash = ?",
            (now, new_hash, name, account.password_hash),
        )

    # -- two-factor -----------------------------------------------------------------------------

    async def begin_totp(self, name: str) -> str:
        """A new pending TOTP secret, returned in clear to be shown once and stored sealed (two-factor stays as
        it was until `confirm_totp`)."""
        secret = totp.new_secret()
        sealed = await self.secrets.seal(secret)
        await self.db.execute(
            "UPDATE users SET totp_pending = ?, updated_at = ? WHERE name = ?", (sealed, self.clock.now(), name)
        )
        return secret

    async def confirm_totp(self, name: str, code: str) -> list[str]:
        """Turn two-factor on with the pending secret once `code` proves the app has it; return new
        recovery codes (shown once; older ones stop working).

        Raises:
            InvalidInput: nothing pending, the pending secret cannot be opened (logged), or the code does not
            match.
        """
        account = await self.account(name)
        if account is None or account.totp_pending is None:
            raise InvalidInput("no two-factor set-up is pending: start one with POST /api/me/totp")
        pending = await _opened(self.secrets, account.totp_pending, name)
        if pending is None:
            raise InvalidInput("the pending two-factor set-up cannot be read: start a new one with POST /api/me/totp")
        now = self.clock.now()
        step = totp.matching_step(pending, code, now, None)
        if step is None:
            raise InvalidInput("that code does not match; check the authenticator app's clock and try the next code")
        codes = recovery.generate()
        await self.db.batch(
            [
                (
                    "UPDATE users SET totp_secret = totp_pending, totp_pending = NULL, totp_last_step = ?, "
                    "updated_at = ? WHERE name = ? AND totp_pending = ?",
                    (step, now, name, account.totp_pending),
                ),
                ("DELETE FROM user_recovery_codes WHERE user_name = ?", (name,)),
                *[
                    (
                        "INSERT INTO user_recovery_codes (user_name, code_hash, created_at) VALUES (?, ?, ?)",
                        (name, recovery.hash_code(c), now),
                    )
                    for c in codes
                ],
                audit.entry(now, "user.totp_enabled", name),
            ]
        )
        return codes

    async def disable_totp(self, name: str) -> None:
        """Turn two-factor off (and forget the recovery codes)."""
        await self.get(name)
        now = self.clock.now()
        await self.db.batch(
            [
                (
                    "UPDATE users SET totp_secret = NULL, totp_pending = NULL, totp_last_step = NULL, "
                    "updated_at = ? WHERE name = ?",
                    (now, name),
                ),
                ("DELETE FROM user_recovery_codes WHERE user_name = ?", (name,)),
                audit.entry(now, "user.totp_disabled", name),
            ]
        )

    async def use_totp(self, account: Account, code: str) -> bool:
        """True if `code` is valid now and its step was not used before (the step is then used up). False too
        when the stored secret cannot be opened (logged: the sign-in is refused, recovery codes still work)."""
        if account.totp_secret is None:
            return False
        secret = await _opened(self.secrets, account.totp_secret, account.user.name)
        if secret is None:
            return False
        step = totp.matching_step(secret, code, self.clock.now(), account.totp_last_step)
        if step is None:
            return False
        # Only the first of two logins racing with one code moves the step forward (and none while `keys rotate`
        # re-seals the secret between the read and here: that sign-in asks for the next code).
        used = await self.db.execute(
            "UPDATE users SET totp_last_step = ? WHERE name = ? AND totp_secret = ? "
            "AND (totp_last_step IS NULL OR totp_last_step < ?)",
            (step, account.user.name, account.totp_secret, step),
        )
        return used == 1

    async def use_recovery_code(self, name: str, code: str) -> bool:
        """True if `code` is one of the user's unused recovery codes (it is then used up)."""
        if len(recovery.normalise(code)) != 16:
            return False
        spent = await self.db.execute(
            "DELETE FROM user_recovery_codes WHERE user_name = ? AND code_hash = ?", (name, recovery.hash_code(code))
        )
        if spent == 1:
            await self.db.execute(*audit.entry(self.clock.now(), "user.recovery_code_used", name))
        return spent == 1

    async def recovery_codes_left(self, name: str) -> int:
        row = await self.db.fetch_one("SELECT COUNT(*) AS n FROM user_recovery_codes WHERE user_name = ?", (name,))
        return int(row["n"]) if row else 0


async def _opened(secrets: TotpSecrets, stored: str, name: str) -> str | None:
    """A stored TOTP secret opened, or None when it cannot be (a wrong key, tampering): logged for the operator
    with the reason, never with the value."""
    try:
        return await secrets.open(stored)
    except ConfigError as exc:
        log.error("cannot read the TOTP secret of %s: %s", name, exc)
        return None
