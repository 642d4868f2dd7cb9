"""Token records: created and revoked by the CLI (later the admin API), looked up on every request.

A look-up goes this process's memory -> database, never the shared key/value store: Workers KV is only
eventually consistent, and a token decision must follow the database. Known and unknown tokens are
remembered in memory for at most TOKEN_MEMO_SECONDS (package_broker.cache), so a flood of guesses costs
one indexed read each and no writes anywhere. Creating or revoking a token writes a new cache generation
in the same transaction, so every process sees it within MEMO_SECONDS.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..cache import Cache, bump_statement
from ..errors import InvalidInput, NotFound
from ..ports import Clock, Database
from ..ports.database import Params
from . import tokens

_COLUMNS = (
    "id, description, token_prefix, permission, allowed_package_prefixes, rate_limit, expires_at, "
    "revoked_at, last_used_at, created_at, updated_at"
)
#: last_used_at is written at most this often per token and process, to keep requests write-free.
TOUCH_INTERVAL = 300


@dataclass(frozen=True, slots=True)
class Token:
    id: str
    description: str
    token_prefix: str
    permission: str
    allowed_package_prefixes: list[str] | None
    rate_limit: int | None
    expires_at: int | None
    revoked_at: int | None
    last_used_at: int | None
    created_at: int
    updated_at: int

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Token:
        prefixes = row["allowed_package_prefixes"]
        return cls(**{**row, "allowed_package_prefixes": json.loads(prefixes) if prefixes else None})

    def can_write(self) -> bool:
        return self.permission == "write"


def validate_prefixes(prefixes: list[str] | None) -> list[str] | None:
    """Check `allowed_package_prefixes`: lower-case, at least a vendor character, `*` only at the end."""
    if prefixes is None:
        return None
    cleaned = []
    for prefix in prefixes:
        prefix = prefix.strip()
        if not prefix or prefix != prefix.lower() or "*" in prefix[:-1] or any(c in prefix for c in " %\\"):
            raise InvalidInput(
                f"invalid package prefix {prefix!r}: use lower-case prefixes such as acme/ or acme/lib-*"
            )
        cleaned.append(prefix)
    return cleaned


def prepare_token(
    now: int,
    description: str,
    *,
    permission: str = "readonly",
    expires_at: int | None = None,
    allowed_package_prefixes: list[str] | None = None,
    rate_limit: int | None = None,
) -> tuple[Token, str, list[tuple[str, Params]]]:
    """Validate and build a new token: the record, its secret, and the statements that store its hash.

    `TokenStore.create` runs them in one transaction; `package-broker token create --sql` prints them for
    `wrangler d1 execute`. The last one writes a new cache generation, so every process forgets that it
    saw this token as unknown.
    """
    if permission not in tokens.PERMISSIONS:
        raise InvalidInput(f"permission must be one of {', '.join(tokens.PERMISSIONS)}, not {permission!r}")
    if not description.strip():
        raise InvalidInput("a token needs a description, e.g. 'CI for acme/shop'")
    if expires_at is not None and expires_at <= now:
        raise InvalidInput("the expiry date is in the past")
    prefixes = validate_prefixes(allowed_package_prefixes)
    secret = tokens.generate()
    token = Token(
        id=tokens.new_token_id(),
        description=description.strip(),
        token_prefix=tokens.display_prefix(secret),
        permission=permission,
        allowed_package_prefixes=prefixes,
        rate_limit=rate_limit,
        expires_at=expires_at,
        revoked_at=None,
        last_used_at=None,
        created_at=now,
        updated_at=now,
    )
    insert = (
        f"INSERT INTO tokens ({_COLUMNS}, token_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            token.id,
            token.description,
            token.token_prefix,
            token.permission,
            json.dumps(prefixes) if prefixes is not None else None,
            rate_limit,
            expires_at,
            None,
            None,
            now,
            now,
            tokens.hash_token(secret),
        ),
    )
    return token, secret, [insert, bump_statement(now)]


def revoke_statements(token_id: str, now: int) -> list[tuple[str, Params]]:
    """Revoke a token (keeping an earlier revocation time) and make every process re-check it.

    `TokenStore.revoke` runs them; `package-broker token revoke --sql` prints them for `wrangler d1 execute`.
    """
    return [
        (
            "UPDATE tokens SET revoked_at = ?, updated_at = ? WHERE id = ? AND revoked_at IS NULL",
            (now, now, token_id),
        ),
        bump_statement(now),
    ]


class TokenStore:
    def __init__(self, db: Database, cache: Cache, clock: Clock) -> None:
        self.db = db
        self.cache = cache
        self.clock = clock
        self._touched: dict[str, int] = {}

    async def create(self, description: str, **options: Any) -> tuple[Token, str]:
        """Create a token and return it with its secret, which is never stored and cannot be shown again.

        Options are those of `prepare_token`.
        """
        token, secret, statements = prepare_token(self.clock.now(), description, **options)
        await self.db.batch(statements)
        self.cache.forget()
        return token, secret

    async def all(self) -> list[Token]:
        rows = await self.db.fetch_all(f"SELECT {_COLUMNS} FROM tokens ORDER BY created_at, id")
        return [Token.from_row(row) for row in rows]

    async def get(self, token_id: str) -> Token:
        row = await self.db.fetch_one(f"SELECT {_COLUMNS} FROM tokens WHERE id = ?", (token_id,))
        if row is None:
            raise NotFound(f"no token with id {token_id}; see `package-broker token list`")
        return Token.from_row(row)

    async def revoke(self, token_id: str) -> Token:
        """Revoke a token for good. Revoking twice keeps the first revocation time."""
        token = await self.get(token_id)
        if token.revoked_at is None:
            await self.db.batch(revoke_statements(token_id, self.clock.now()))
            self.cache.forget()
            token = await self.get(token_id)
        return token

    async def lookup(self, secret: str) -> Token | None:
        """Return the token record for a secret (revoked and expired ones included), or None if unknown."""
        row = await self.db.fetch_one(
            f"SELECT {_COLUMNS} FROM tokens WHERE token_hash = ?", (tokens.hash_token(secret),)
        )
        return Token.from_row(row) if row else None

    def remembered(self, authorization: str) -> Token | bool | None:
        """What this process recently found behind an Authorization header: a Token, False (unknown), or None."""
        found: Token | bool | None = self.cache.tokens.get(authorization)
        return found

    def remember(self, authorization: str, token: Token | None) -> None:
        self.cache.tokens.put(authorization, token or False)

    def due_for_touch(self, token: Token) -> bool:
        """True when `last_used_at` should be written: at most once per TOUCH_INTERVAL per token and process."""
        now = self.clock.now()
        if now - self._touched.get(token.id, 0) < TOUCH_INTERVAL:
            return False
        self._touched[token.id] = now
        return True

    async def touch(self, token: Token) -> None:
        """Record that the token was used now."""
        await self.db.execute("UPDATE tokens SET last_used_at = ? WHERE id = ?", (self.clock.now(), token.id))
