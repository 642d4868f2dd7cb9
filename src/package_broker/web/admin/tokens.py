"""`/api/tokens`: Composer tokens. The secret is in the answer that creates it and nowhere else, ever: listed
tokens show a display prefix (`pkb_AbCd`), never the secret or its hash."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from ...access.grants import missing_requirements
from ...access.store import MAX_RATE_LIMIT, Token
from ...access.tokens import PERMISSIONS
from ...errors import InvalidInput
from .models import PAGING, Time, offset_page
from .routing import ApiCall, Route
from .schema import UNSET, Doc, MaxLen, MinLen, Range, Unset

Grant = Annotated[str, MaxLen(300)]
RateLimit = Annotated[int, Range(0, MAX_RATE_LIMIT), Doc("Requests per hour; 0: unlimited; null: RATE_LIMIT")]


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A token without its secret."""

    id: Annotated[str, MaxLen(100)]
    description: Annotated[str, MaxLen(1000)]
    token_prefix: Annotated[str, MaxLen(40), Doc("The secret's first characters, to recognise it")]
    permission: Literal["readonly", "write"]
    state: Literal["active", "expired", "revoked"]
    allowed_package_prefixes: list[Grant] | None
    allowed_packages: list[Grant] | None
    rate_limit: RateLimit | None
    effective_rate_limit: Annotated[int, Doc("What applies: its own limit, else the broker's (0: unlimited)")]
    expires_at: Time | None
    revoked_at: Time | None
    last_used_at: Annotated[int | None, Doc("Unix time, written at most every 5 minutes")]
    created_at: Time
    updated_at: Time


@dataclass(frozen=True, slots=True)
class TokenPage:
    items: list[TokenInfo]
    next: Annotated[str, MaxLen(300)] | None


@dataclass(frozen=True, slots=True)
class MissingPackage:
    """A package this broker serves that the token's packages require but it cannot see."""

    name: Annotated[str, MaxLen(300)]
    required_by: list[Annotated[str, MaxLen(300)]]


@dataclass(frozen=True, slots=True)
class TokenCreate:
    """A new token. Without grants it sees every package."""

    description: Annotated[str, MaxLen(200), MinLen(1), Doc("Who or what uses it, e.g. 'CI for acme/shop'")]
    permission: Literal["readonly", "write"] = "readonly"
    expires_at: Time | None = None
    allowed_package_prefixes: Annotated[list[Grant], MaxLen(100)] | None = None
    allowed_packages: Annotated[list[Grant], MaxLen(100)] | None = None
    rate_limit: RateLimit | None = None


@dataclass(frozen=True, slots=True)
class TokenCreated:
    token: TokenInfo
    secret: Annotated[str, MaxLen(100), Doc("The token itself: shown only in this answer")]
    missing: list[MissingPackage]


@dataclass(frozen=True, slots=True)
class TokenEdit:
    """Fields left out stay as they are; `null` clears an expiry or returns to the broker's rate limit. Grants
    are only added, to a token that already has some (create a new token to narrow one)."""

    description: Annotated[str, MaxLen(200), MinLen(1)] | Unset = UNSET
    expires_at: Time | None | Unset = UNSET
    rate_limit: RateLimit | None | Unset = UNSET
    add_package_prefixes: Annotated[list[Grant], MaxLen(100)] | Unset = UNSET
    add_packages: Annotated[list[Grant], MaxLen(100)] | Unset = UNSET


@dataclass(frozen=True, slots=True)
class TokenEdited:
    token: TokenInfo
    missing: list[MissingPackage]


def info(token: Token, default_limit: int, now: int) -> TokenInfo:
    state: Literal["active", "expired", "revoked"] = "active"
    if token.revoked_at is not None:
        state = "revoked"
    elif token.expires_at is not None and token.expires_at <= now:
        state = "expired"
    return TokenInfo(
        id=token.id,
        description=token.description,
        token_prefix=token.token_prefix,
        permission="write" if token.permission == "write" else "readonly",
        state=state,
        allowed_package_prefixes=token.allowed_package_prefixes,
        allowed_packages=token.allowed_packages,
        rate_limit=token.rate_limit,
        effective_rate_limit=token.rate_limit if token.rate_limit is not None else default_limit,
        expires_at=token.expires_at,
        revoked_at=token.revoked_at,
        last_used_at=token.last_used_at,
        created_at=token.created_at,
        updated_at=token.updated_at,
    )


def _info(call: ApiCall, token: Token) -> TokenInfo:
    broker = call.ctx.broker
    return info(token, broker.settings.rate_limit, broker.clock.now())


async def list_tokens(call: ApiCall) -> TokenPage:
    found = await call.ctx.broker.tokens.all()
    state = call.query.get("state")
    items = [_info(call, t) for t in found]
    if state:
        items = [t for t in items if t.state == state]
    chosen, cursor = offset_page(items, call.query)
    return TokenPage(chosen, cursor)


async def show_token(call: ApiCall) -> TokenInfo:
    return _info(call, await call.ctx.broker.tokens.get(call.params["token_id"]))


async def create_token(call: ApiCall) -> TokenCreated:
    body: TokenCreate = call.body
    assert body.permission in PERMISSIONS
    broker = call.ctx.broker
    made, secret = await broker.tokens.create(
        body.description,
        permission=body.permission,
        expires_at=body.expires_at,
        allowed_package_prefixes=body.allowed_package_prefixes,
        allowed_packages=body.allowed_packages,
        rate_limit=body.rate_limit,
    )
    missing = await missing_requirements(made, broker.catalog)
    return TokenCreated(_info(call, made), secret, [MissingPackage(m.name, list(m.required_by)) for m in missing])


async def edit_token(call: ApiCall) -> TokenEdited:
    body: TokenEdit = call.body
    broker = call.ctx.broker
    token_id = call.params["token_id"]
    changes: dict[str, Any] = {
        name: value
        for name, value in (("expires_at", body.expires_at), ("rate_limit", body.rate_limit))
        if value is not UNSET
    }
    prefixes = None if body.add_package_prefixes is UNSET else body.add_package_prefixes
    names = None if body.add_packages is UNSET else body.add_packages
    if body.description is not UNSET:
        changes["description"] = body.description.strip()
        if not changes["description"]:
            raise InvalidInput("a token needs a description")
    if not changes and not prefixes and not names:
        raise InvalidInput("nothing to change: give description, expires_at, rate_limit or grants to add")
    edited = await broker.tokens.edit(token_id, changes, add_prefixes=prefixes, add_packages=names)
    missing = await missing_requirements(edited, broker.catalog) if prefixes or names else []
    return TokenEdited(_info(call, edited), [MissingPackage(m.name, list(m.required_by)) for m in missing])


async def revoke_token(call: ApiCall) -> TokenInfo:
    return _info(call, await call.ctx.broker.tokens.revoke(call.params["token_id"]))


_ONE = "/api/tokens/{token_id}"

ROUTES = [
    Route(
        "GET",
        "/api/tokens",
        list_tokens,
        "List tokens: grants, rate limit, expiry, last use (never a secret)",
        "tokens",
        role="viewer",
        response=TokenPage,
        query={**PAGING, "state": (Literal["active", "expired", "revoked"], "Only tokens in this state.")},
    ),
    Route(
        "POST",
        "/api/tokens",
        create_token,
        "Create a token; its secret is in this answer only",
        "tokens",
        body=TokenCreate,
        response=TokenCreated,
        status=201,
    ),
    Route("GET", _ONE, show_token, "One token (never its secret)", "tokens", role="viewer", response=TokenInfo),
    Route(
        "PATCH",
        _ONE,
        edit_token,
        "Change a token's description, expiry or rate limit, or add grants",
        "tokens",
        body=TokenEdit,
        response=TokenEdited,
    ),
    Route("DELETE", _ONE, revoke_token, "Revoke a token for good", "tokens", response=TokenInfo),
]
