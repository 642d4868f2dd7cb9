"""Signing in and out, first-run setup, and the signed-in user's own password and two-factor settings.

`/api/setup` and `POST /api/session` are public (they are how one gets a session); everything else needs a
session. Sign-in and setup answer `{"user", "csrf_token"}` and set the `pkb_session` cookie (accounts/web.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from ...accounts import login as accounts_login
from ...accounts import setup as accounts_setup
from ...accounts.passwords import MAX_BYTES
from ...accounts.totp import otpauth_uri
from ...accounts.users import User
from ...accounts.web import (
    SessionRefused,
    check_cookie_can_work,
    current_session,
    session_hash,
    signed_in,
    signed_out,
)
from ...errors import Conflict
from ..http import Response
from .routing import ApiCall, Route
from .schema import Doc, MaxLen

Name = Annotated[str, MaxLen(64), Doc("The user name")]
Password = Annotated[str, MaxLen(MAX_BYTES), Doc("At least 12 characters, at most 1,024 bytes")]


@dataclass(frozen=True, slots=True)
class SetupStatus:
    needed: Annotated[bool, Doc("True while no user exists")]
    method: Annotated[
        Literal["secret", "cli"],
        Doc("secret: POST /api/setup with SETUP_SECRET; cli: `package-broker user create NAME --role admin`"),
    ]


@dataclass(frozen=True, slots=True)
class SetupBody:
    secret: Annotated[str, MaxLen(200), Doc("The SETUP_SECRET the operator set")]
    name: Name
    password: Password


@dataclass(frozen=True, slots=True)
class SignIn:
    name: Name
    password: Password
    code: Annotated[str, MaxLen(64), Doc("A TOTP code, or a recovery code, when two-factor is on")] | None = None


@dataclass(frozen=True, slots=True)
class SignedIn:
    user: User
    csrf_token: Annotated[str, Doc("Send it back in the X-CSRF-Token header with every write")]


@dataclass(frozen=True, slots=True)
class PasswordChange:
    current: Password
    new: Password


@dataclass(frozen=True, slots=True)
class TotpSetup:
    secret: Annotated[str, Doc("Base32, for typing into an authenticator app")]
    otpauth_uri: Annotated[str, Doc("otpauth://totp/... for a QR code")]


@dataclass(frozen=True, slots=True)
class TotpCode:
    code: Annotated[str, MaxLen(16), Doc("The current 6-digit code")]


@dataclass(frozen=True, slots=True)
class RecoveryCodes:
    recovery_codes: Annotated[list[str], Doc("Ten one-time codes, shown only now")]


@dataclass(frozen=True, slots=True)
class PasswordConfirm:
    password: Password


async def setup_status(call: ApiCall) -> SetupStatus:
    needed, method = await accounts_setup.status(call.ctx.broker)
    return SetupStatus(needed, method)


async def setup(call: ApiCall) -> Response:
    body: SetupBody = call.body
    ctx = call.ctx
    check_cookie_can_work(ctx)
    user, session_id, session = await accounts_setup.claim(
        ctx.broker, body.secret, body.name, body.password, ctx.request.client
    )
    return signed_in(201, user, session_id, session)


async def sign_in(call: ApiCall) -> Response:
    body: SignIn = call.body
    ctx = call.ctx
    check_cookie_can_work(ctx)
    user, session_id, session = await accounts_login.login(
        ctx.broker, body.name, body.password, body.code, ctx.request.client
    )
    return signed_in(200, user, session_id, session)


async def whoami(call: ApiCall) -> SignedIn:
    session, account = await current_session(call.ctx, write=False)
    return SignedIn(account.user, session.csrf_token)


async def sign_out(call: ApiCall) -> Response:
    session, account = await current_session(call.ctx, write=True)
    await call.ctx.broker.sessions.end(session.id_hash, account.user.name)
    return signed_out()


async def sign_out_everywhere(call: ApiCall) -> Response:
    _, account = await current_session(call.ctx, write=True)
    await call.ctx.broker.sessions.end_all(account.user.name)
    return signed_out()


async def _check_password(call: ApiCall, password: str) -> str:
    """The caller's name once `password` is theirs; a wrong one is a 403 (the session stays) and a failure
    in the throttle."""
    ctx = call.ctx
    _, account = await current_session(ctx, write=True)
    accounts_login.check_throttle(ctx.broker, ctx.request.client, account.user.name)
    verified = await ctx.broker.users.verify(account, password)
    if not verified.ok:
        await accounts_login.failed(ctx.broker, ctx.request.client, account.user.name)
        raise SessionRefused("wrong-password", "The password is not right.", 403)
    return account.user.name


async def change_password(call: ApiCall) -> None:
    body: PasswordChange = call.body
    name = await _check_password(call, body.current)
    await call.ctx.broker.users.set_password(name, body.new, keep_session=session_hash(call.ctx))


async def totp_begin(call: ApiCall) -> TotpSetup:
    _, account = await current_session(call.ctx, write=True)
    if account.totp_secret is not None:
        raise Conflict("two-factor is on already; turn it off first (DELETE /api/me/totp) to set up a new app")
    secret = await call.ctx.broker.users.begin_totp(account.user.name)
    return TotpSetup(secret, otpauth_uri(secret, account.user.name))


async def totp_confirm(call: ApiCall) -> RecoveryCodes:
    body: TotpCode = call.body
    _, account = await current_session(call.ctx, write=True)
    broker = call.ctx.broker
    return RecoveryCodes(await broker.users.confirm_totp(account.user.name, body.code))


async def totp_disable(call: ApiCall) -> None:
    body: PasswordConfirm = call.body
    name = await _check_password(call, body.password)
    await call.ctx.broker.users.disable_totp(name)


ROUTES: list[Route] = [
    Route(
        "GET",
        "/api/setup",
        setup_status,
        "Whether first-run setup is needed, and how",
        "session",
        role="public",
        response=SetupStatus,
    ),
    Route(
        "POST",
        "/api/setup",
        setup,
        "Create the first admin with SETUP_SECRET (while no user exists)",
        "session",
        role="public",
        body=SetupBody,
        response=SignedIn,
        status=201,
        description="Only with the SETUP_SECRET the operator set, and only while no user exists; a wrong secret "
        "and a user that exists already get the same 403. Sets the `pkb_session` cookie.",
    ),
    Route(
        "POST",
        "/api/session",
        sign_in,
        "Sign in (sets the session cookie)",
        "session",
        role="public",
        body=SignIn,
        response=SignedIn,
        description="Sets the `pkb_session` cookie (HttpOnly, Secure, SameSite=Strict). A wrong name or password: "
        '401 (one answer for both). Two-factor on and `code` missing or wrong: 401 with `"totp_required": true`. '
        "Too many failures from this address or for this name: 429 with Retry-After.",
    ),
    Route(
        "GET",
        "/api/session",
        whoami,
        "The signed-in user and the session's CSRF token",
        "session",
        role="viewer",
        response=SignedIn,
    ),
    Route("DELETE", "/api/session", sign_out, "Sign out", "session", role="viewer", status=204),
    Route(
        "POST",
        "/api/session/logout-all",
        sign_out_everywhere,
        "Sign out every session of this user",
        "session",
        role="viewer",
        status=204,
    ),
    Route(
        "POST",
        "/api/me/password",
        change_password,
        "Change the own password (other sessions end)",
        "session",
        role="viewer",
        body=PasswordChange,
        status=204,
        errors=(429,),
    ),
    Route(
        "POST",
        "/api/me/totp",
        totp_begin,
        "Start setting up two-factor (pending until confirmed)",
        "session",
        role="viewer",
        response=TotpSetup,
        errors=(409,),
    ),
    Route(
        "POST",
        "/api/me/totp/confirm",
        totp_confirm,
        "Turn two-factor on with a first code",
        "session",
        role="viewer",
        body=TotpCode,
        response=RecoveryCodes,
    ),
    Route(
        "DELETE",
        "/api/me/totp",
        totp_disable,
        "Turn two-factor off (needs the password)",
        "session",
        role="viewer",
        body=PasswordConfirm,
        status=204,
        errors=(429,),
    ),
]
