"""Deciding who is asking: HTTP Basic with username `token` (or a Bearer header) carrying a Composer token.

Every refusal says what to fix. Composer prints the `warning` of a JSON error body, so the text of
`AuthError.warning` is what a developer sees in their terminal when `composer install` fails.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime

from . import tokens
from .store import Token, TokenStore


class AuthError(Exception):
    """Authentication or authorisation refused. `status` is 401 or 403."""

    def __init__(self, reason: str, warning: str, status: int = 401, token_id: str | None = None) -> None:
        super().__init__(warning)
        self.reason = reason
        self.warning = warning
        self.status = status
        #: The refused token's id when it is known (revoked, expired, out of scope): for the log line.
        self.token_id = token_id


def _auth_hint(host: str) -> str:
    return f"composer config --global http-basic.{host} token <your-token>"


def _date(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


def secret_from_header(authorization: str | None, host: str) -> str:
    """Return the token carried by an Authorization header.

    Raises:
        AuthError: missing header, not Basic/Bearer, wrong username, or not shaped like one of our tokens.
    """
    if not authorization:
        raise AuthError(
            "missing",
            "This repository needs a token. Create one with `package-broker token create`, then run: "
            + _auth_hint(host),
        )
    scheme, _, credentials = authorization.strip().partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer":
        secret = credentials.strip()
    elif scheme == "basic":
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise AuthError("malformed", "The Authorization header is not valid HTTP Basic.") from None
        username, separator, secret = decoded.partition(":")
        if not separator:
            raise AuthError("malformed", "The Authorization header is not valid HTTP Basic.")
        if username != "token":
            raise AuthError(
                "malformed",
                f'The username must be the word "token" and the password your token; fix it with: {_auth_hint(host)}',
            )
    else:
        raise AuthError("malformed", 'Use HTTP Basic authentication with username "token" and your token as password.')
    if not tokens.is_well_formed(secret):
        raise AuthError(
            "malformed",
            f"The password is not a PACKAGE.broker token (they start with {tokens.PREFIX} and are "
            f"{tokens.LENGTH} characters long). Check the http-basic entry for {host} in auth.json.",
        )
    return secret


async def authenticate(authorization: str | None, host: str, store: TokenStore, now: int) -> Token:
    """Return the valid token behind an Authorization header.

    A header seen recently is answered from this process's memory (no decoding, no hashing, no query);
    the record is still checked for revocation and expiry on every request.

    Raises:
        AuthError: 401 for a missing, malformed, unknown, revoked or expired token.
    """
    remembered = store.remembered(authorization) if authorization else None
    if remembered is None:
        secret = secret_from_header(authorization, host)
        assert authorization is not None
        token = await store.lookup(secret)
        store.remember(authorization, token)
    else:
        token = remembered if isinstance(remembered, Token) else None
    if token is None:
        raise AuthError(
            "unknown",
            f"This token is not known to {host}. It may have been mistyped or created on another broker; "
            "create a new one with `package-broker token create` and update auth.json.",
        )
    if token.revoked_at is not None:
        raise AuthError(
            "revoked",
            f'This token ({token.token_prefix}…, "{token.description}") was revoked on {_date(token.revoked_at)}. '
            "Ask for a new token and update auth.json.",
            token_id=token.id,
        )
    if token.expires_at is not None and token.expires_at <= now:
        raise AuthError(
            "expired",
            f'This token ({token.token_prefix}…, "{token.description}") expired on {_date(token.expires_at)}. '
            "Create a new one with `package-broker token create` and update auth.json.",
            token_id=token.id,
        )
    return token


def require_write(token: Token) -> None:
    """Raises AuthError(403) unless the token has the `write` permission."""
    if not token.can_write():
        raise AuthError(
            "forbidden",
            f"This token ({token.token_prefix}…) is readonly; publishing and syncing need a token created "
            "with --permission write.",
            status=403,
        )


def require_scope(token: Token, name: str, action: str = "read") -> None:
    """Raises AuthError(403) unless the token's grants (`Token.may_see`) cover `name`.

    Reads and writes obey the same scope. The message names only what the caller asked for and the
    token's own grants, and is the same whether or not `name` exists, so a token cannot probe for names.
    """
    if not token.may_see(name):
        raise AuthError(
            "forbidden",
            f"This token ({token.token_prefix}…) may not {action} {name}; it is limited to: "
            f"{', '.join(token.grants()) or 'no packages'}",
            status=403,
        )


def require_unscoped(token: Token, action: str) -> None:
    """Raises AuthError(403) if the token is limited by grants (prefixes or names): for actions (a sync
    of every source) whose effects and report reach beyond any grant."""
    if token.restricted:
        raise AuthError(
            "forbidden",
            f"This token ({token.token_prefix}…) is limited to {', '.join(token.grants()) or 'no packages'}; "
            f"{action} needs a write token created without --allow-prefix or --allow-package.",
            status=403,
        )
