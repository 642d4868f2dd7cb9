"""The session cookie on the wire, and `current_user`: who is calling the admin API.

The cookie `pkb_session` is `HttpOnly` (scripts cannot read it), `Secure` (sent over HTTPS only; browsers
treat http://localhost and http://127.0.0.1 as secure too, so a local dashboard works), `SameSite=Strict`
(no other site's page can make the browser send it) and `Path=/`. Writes need more than the cookie: the
header `X-CSRF-Token` equal to the session's token (which only our own pages can read, from a sign-in's JSON),
and, when the browser sends `Origin`, our own origin (the request's, or BASE_URL's).
"""

from __future__ import annotations

import hmac
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..access.auth import AuthError
from ..web.http import Request, Response, json_response
from .passwords import utf8
from .sessions import Session, id_hash
from .users import Account, User

if TYPE_CHECKING:
    from ..web.app import Context

COOKIE = "pkb_session"
CSRF_HEADER = "x-csrf-token"
_ATTRIBUTES = "Path=/; HttpOnly; Secure; SameSite=Strict"

#: The session `current_user` found for a request, so the handler of the same request need not read it again.
_found: ContextVar[tuple[Request, Session, Account] | None] = ContextVar("package_broker_session", default=None)


class SessionRefused(AuthError):
    """401 (no valid session, wrong credentials) or 403 (CSRF, Origin, role); `details` join the JSON body."""

    def __init__(self, reason: str, message: str, status: int = 401, **details: Any) -> None:
        super().__init__(reason, message, status=status)
        self.details = details


def cookie_value(header: str | None) -> str | None:
    """The value of our cookie in a `Cookie` header (the last one if sent twice), or None."""
    if not header:
        return None
    found = None
    for part in header.split(";"):
        name, separator, value = part.strip().partition("=")
        if separator and name == COOKIE and value:
            found = value.strip().strip('"')
    return found


def set_cookie(session_id: str, max_age: int) -> tuple[str, str]:
    return ("set-cookie", f"{COOKIE}={session_id}; Max-Age={max_age}; {_ATTRIBUTES}")


def clear_cookie() -> tuple[str, str]:
    return ("set-cookie", f"{COOKIE}=; Max-Age=0; {_ATTRIBUTES}")


def signed_in(status: int, user: User, session_id: str, session: Session) -> Response:
    """The answer to a sign-in or setup: the user, the session's CSRF token, and the cookie."""
    max_age = max(1, session.expires_at - session.created_at)
    return json_response(
        status,
        {"user": user.to_json(), "csrf_token": session.csrf_token},
        [set_cookie(session_id, max_age), ("cache-control", "no-store")],
    )


def signed_out(status: int = 204) -> Response:
    return Response(status, [clear_cookie(), ("cache-control", "no-store")])


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def check_origin(ctx: Context) -> None:
    """Refuse (403) a write whose `Origin` is another site's: the request's own origin or BASE_URL's only."""
    origin = ctx.request.headers.get("origin")
    if origin is None:
        return  # not sent by every client (curl, old browsers on same-origin requests); CSRF still applies
    allowed = {_origin(ctx.request.origin)}
    if ctx.broker.settings.base_url:
        allowed.add(_origin(ctx.broker.settings.base_url))
    if origin.strip().lower() not in allowed:
        raise SessionRefused("cross-origin", "This request comes from another site's page and was refused.", 403)


_LOOPBACK = ("localhost", "127.0.0.1", "[::1]")


def check_cookie_can_work(ctx: Context) -> None:
    """Refuse (403) a sign-in from a page served over plain http from a host other than loopback: browsers
    drop a Secure cookie there, so the sign-in would "succeed" and every next call would be a 401. The
    browser's `Origin` says what the user's address bar shows (https behind a TLS proxy, even though the
    proxy talks http to us); clients without `Origin` (curl, scripts) keep cookies as they like."""
    origin = ctx.request.headers.get("origin", "").strip().lower()
    if not origin.startswith("http://"):
        return
    host = urlsplit(origin).hostname or ""
    if f"[{host}]" in _LOOPBACK or host in _LOOPBACK or host.endswith(".localhost"):
        return
    raise SessionRefused(
        "insecure-origin",
        f"The dashboard needs HTTPS: browsers do not keep the session cookie (Secure) for {origin}. "
        "Serve the broker over https (a TLS proxy, BASE_URL=https://...) or open it at http://localhost.",
        403,
    )


async def current_session(ctx: Context, *, write: bool) -> tuple[Session, Account]:
    """The caller's live session and account.

    Raises:
        SessionRefused: 401 without a valid session; 403 for a write without the session's CSRF token or
        from another origin.
    """
    found = _found.get()
    if found is not None and found[0] is ctx.request:
        session, account = found[1], found[2]
    else:
        value = cookie_value(ctx.request.headers.get("cookie"))
        if value is None:
            raise SessionRefused("no-session", "Sign in to the dashboard first (POST /api/session).")
        result = await ctx.broker.sessions.find(value)
        if result is None:
            raise SessionRefused("session-expired", "This session has ended; sign in again.")
        session, account = result
        _found.set((ctx.request, session, account))
        if ctx.broker.sessions.due_for_touch(session):
            ctx.request.defer(ctx.broker.sessions.touch(session))
    if write:
        check_origin(ctx)
        sent = ctx.request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(utf8(sent), session.csrf_token.encode("ascii")):
            raise SessionRefused(
                "csrf", "This change needs the X-CSRF-Token header of the session (from signing in).", 403
            )
    return session, account


async def current_user(ctx: Context, *, write: bool) -> User:
    """The signed-in user calling the admin API (the dispatcher's check for "viewer" and "admin" routes);
    `write`: the request changes something (POST, PATCH, PUT, DELETE), so CSRF and Origin are checked too."""
    _, account = await current_session(ctx, write=write)
    return account.user


def session_hash(ctx: Context) -> str | None:
    """The stored id of the caller's session (from the cookie; no database read)."""
    value = cookie_value(ctx.request.headers.get("cookie"))
    return id_hash(value) if value else None
