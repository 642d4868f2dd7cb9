"""Token records: created and revoked by the CLI (later the admin API), looked up on every request.

A look-up goes this process's memory -> database, never the shared key/value store: Workers KV is only
eventually consistent, and a token decision must follow the database. Known and unknown tokens are
remembered in memory for at most TOKEN_MEMO_SECONDS (package_broker.cache), so a flood of guesses costs
one indexed read each and no writes anywhere. Creating or revoking a token writes a new cache generation
in the same transaction, so every process sees it within MEMO_SECONDS.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .. import audit
from ..cache import Cache, bump_statement
from ..composer.names import naming_error, prefix_text
from ..errors import InvalidInput, NotFound
from ..ports import Clock, Database
from ..ports.database import Params
from . import tokens

_COLUMNS = (
    "id, description, token_prefix, permission, allowed_package_prefixes, allowed_packages, rate_limit, "
    "expires_at, revoked_at, last_used_at, created_at, updated_at"
)
#: last_used_at is written at most this often per token and process, to keep requests write-free.
TOUCH_INTERVAL = 300


@dataclass(frozen=True, slots=True)
class Token:
    """A token record (never its secret). What it may see is decided by `may_see`, and only there.

    Grants: `allowed_package_prefixes` (names starting so) and `allowed_packages` (exact names); a token
    with either sees the union of both, a token with neither (both None) sees every package.
    """

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
    allowed_packages: list[str] | None = None
    #: Precomputed from the grants (see __post_init__), so `may_see` is one set look-up and one startswith.
    restricted: bool = field(init=False, repr=False, compare=False)
    #: Equal for tokens that see exactly the same packages (for caching what a token sees).
    scope_key: str = field(init=False, repr=False, compare=False)
    _names: frozenset[str] = field(init=False, repr=False, compare=False)
    _prefixes: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        restricted = self.allowed_package_prefixes is not None or self.allowed_packages is not None
        object.__setattr__(self, "restricted", restricted)
        object.__setattr__(self, "_names", frozenset(self.allowed_packages or ()))
        object.__setattr__(self, "_prefixes", tuple(prefix_text(p) for p in self.allowed_package_prefixes or ()))
        scope = [sorted(set(self._prefixes)), sorted(self._names)] if restricted else "*"
        object.__setattr__(self, "scope_key", json.dumps(scope, separators=(",", ":")))

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Token:
        prefixes, names = row["allowed_package_prefixes"], row.get("allowed_packages")
        return cls(
            **{
                **row,
                "allowed_package_prefixes": json.loads(prefixes) if prefixes else None,
                "allowed_packages": json.loads(names) if names else None,
            }
        )

    def can_write(self) -> bool:
        return self.permission == "write"

    def may_see(self, name: str) -> bool:
        """True if this token may read (and, with `write`, publish) the package `name`: the one check of
        a token's grants, used by every route."""
        return not self.restricted or name in self._names or name.startswith(self._prefixes)

    def grants(self) -> list[str]:
        """The grants as people write them: prefixes (`acme/`, `acme/lib-*`) then exact names."""
        return [*(self.allowed_package_prefixes or ()), *(self.allowed_packages or ())]


def validate_prefixes(prefixes: list[str] | None) -> list[str] | None:
    """Check `allowed_package_prefixes`: lower-case, a whole vendor and its slash, `*` only at the end.

    A prefix without a slash is refused: `acme` would also match `acmecorp/...`. The message offers the
    two things it may have meant, `acme/` (the whole vendor) and `acme/...` names starting so.
    """
    if prefixes is None:
        return None
    cleaned = []
    for prefix in prefixes:
        prefix = prefix.strip()
        if not prefix or prefix != prefix.lower() or "*" in prefix[:-1] or any(c in prefix for c in " %\\"):
            raise InvalidInput(
                f"invalid package prefix {prefix!r}: use lower-case prefixes such as acme/ or acme/lib-*"
            )
        if "/" not in prefix_text(prefix) or prefix.startswith("/"):
            vendor = prefix_text(prefix).strip("/") or "acme"
            raise InvalidInput(
                f"package prefix {prefix!r} names no vendor with its slash, so it would also match "
                f"{vendor}corp/...: use {vendor}/ for every {vendor} package, or {vendor}/plugin- (for example) "
                f"for {vendor} packages whose names start so"
            )
        cleaned.append(prefix)
    return cleaned


def validate_packages(names: list[str] | None) -> list[str] | None:
    """Check `allowed_packages`: exact, valid, lower-case package names (duplicates dropped)."""
    if names is None:
        return None
    cleaned: list[str] = []
    for name in names:
        name = name.strip()
        if "*" in name:
            raise InvalidInput(f"{name!r} is a pattern, not a package name: grant it with --allow-prefix instead")
        if error := naming_error(name):
            raise InvalidInput(f"invalid package name {name!r} to grant: {error}")
        if name not in cleaned:
            cleaned.append(name)
    return cleaned


def prepare_token(
    now: int,
    description: str,
    *,
    permission: str = "readonly",
    expires_at: int | None = None,
    allowed_package_prefixes: list[str] | None = None,
    allowed_packages: list[str] | None = None,
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
    names = validate_packages(allowed_packages)
    validate_rate_limit(rate_limit)
    secret = tokens.generate()
    token = Token(
        id=tokens.new_token_id(),
        description=description.strip(),
        token_prefix=tokens.display_prefix(secret),
        permission=permission,
        allowed_package_prefixes=prefixes,
        allowed_packages=names,
        rate_limit=rate_limit,
        expires_at=expires_at,
        revoked_at=None,
        last_used_at=None,
        created_at=now,
        updated_at=now,
    )
    insert = (
        f"INSERT INTO tokens ({_COLUMNS}, token_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            token.id,
            token.description,
            token.token_prefix,
            token.permission,
            json.dumps(prefixes) if prefixes is not None else None,
            json.dumps(names) if names is not None else None,
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


#: The most requests per hour a token's own limit may name (BIGINT holds far more; this catches typos).
MAX_RATE_LIMIT = 1_000_000_000


def validate_rate_limit(rate_limit: int | None) -> None:
    """A token's own limit: None (the broker's default, RATE_LIMIT), 0 (unlimited) or requests per hour."""
    if rate_limit is not None and not 0 <= rate_limit <= MAX_RATE_LIMIT:
        raise InvalidInput(
            f"the rate limit must be 0 (unlimited) or a number of requests per hour up to {MAX_RATE_LIMIT:,}, "
            f"not {rate_limit}"
        )


#: Columns `edit_statements` may set.
EDITABLE = ("rate_limit", "expires_at", "allowed_package_prefixes", "allowed_packages", "description")


def edit_statements(token_id: str, now: int, changes: dict[str, Any]) -> list[tuple[str, Params]]:
    """Set some of a token's EDITABLE columns (already validated; lists as they are, stored as JSON) and
    make every process re-read it. `TokenStore.edit` runs them; `token edit --sql` prints them."""
    if not changes or any(column not in EDITABLE for column in changes):
        raise InvalidInput(f"nothing to change: a token edit sets some of {', '.join(EDITABLE)}")
    values = [json.dumps(v) if isinstance(v, list) else v for v in changes.values()]
    assignments = ", ".join(f"{column} = ?" for column in changes)
    return [
        (f"UPDATE tokens SET {assignments}, updated_at = ? WHERE id = ?", (*values, now, token_id)),
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
        details = {"description": token.description, "permission": token.permission, "expires_at": token.expires_at}
        await self.db.batch([*statements, audit.entry(token.created_at, "token.created", token.id, details)])
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
            now = self.clock.now()
            await self.db.batch([*revoke_statements(token_id, now), audit.entry(now, "token.revoked", token_id)])
            self.cache.forget()
            token = await self.get(token_id)
        return token

    async def edit(
        self,
        token_id: str,
        changes: dict[str, Any],
        *,
        add_prefixes: list[str] | None = None,
        add_packages: list[str] | None = None,
    ) -> Token:
        """Change a token's rate limit or expiry (`changes`: `rate_limit`, `expires_at`) and add grants.

        Grants are only ever added, to a token that already has some: adding one to a token that sees
        every package would narrow it, which is surely not what was meant.
        """
        token = await self.get(token_id)
        now = self.clock.now()
        changes = dict(changes)
        if "rate_limit" in changes:
            validate_rate_limit(changes["rate_limit"])
        if changes.get("expires_at") is not None and changes["expires_at"] <= now:
            raise InvalidInput("the expiry date is in the past")
        if add_prefixes or add_packages:
            if not token.restricted:
                raise InvalidInput(
                    f"{token_id} already sees every package; a grant would narrow it. Create a new token "
                    "with the grants it should have instead"
                )
            prefixes = validate_prefixes(add_prefixes) or []
            names = validate_packages(add_packages) or []
            if prefixes:
                current = token.allowed_package_prefixes or []
                changes["allowed_package_prefixes"] = current + [p for p in prefixes if p not in current]
            if names:
                current = token.allowed_packages or []
                changes["allowed_packages"] = current + [n for n in names if n not in current]
        statements = edit_statements(token_id, now, changes)
        await self.db.batch([*statements, audit.entry(now, "token.edited", token_id, changes)])
        self.cache.forget()
        return await self.get(token_id)

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
