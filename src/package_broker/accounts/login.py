"""Signing in: name and password, then a TOTP or recovery code when two-factor is on; throttled.

A wrong name and a wrong password get the same answer after the same work (the KDF runs for unknown names
too). Failures count per client address and per user name in the broker's failure throttle (the counter
Composer token failures use, AUTH_FAILURE_LIMIT per ten minutes): a guesser is stopped from one address,
and a name attacked from many addresses is stopped too (at the cost that such an attack also keeps its
owner out until the window ends: say so in the README, nothing better exists without a second channel).
"""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING

from ..access.ratelimit import TooManyRequests
from . import totp
from .passwords import utf8
from .sessions import Session
from .users import Account, User, is_name
from .web import SessionRefused

if TYPE_CHECKING:
    from ..broker import Broker

log = logging.getLogger("package_broker.accounts")

WRONG = "The name or the password is not right."


def name_key(name: str) -> str:
    """The throttle's key for a user name: the name itself, or a hash of anything that cannot be one."""
    if is_name(name):
        return "user:" + name
    return "user#" + hashlib.sha256(utf8(name)).hexdigest()[:32]


def check_throttle(broker: Broker, address: str | None, name: str | None = None) -> None:
    """Raise TooManyRequests (429 with Retry-After) while the address or the name is throttled."""
    waits = [broker.throttle.blocked(address)]
    if name is not None:
        waits.append(broker.throttle.blocked(name_key(name)))
    wait = max((w for w in waits if w is not None), default=None)
    if wait is not None:
        raise TooManyRequests("throttled", f"Too many failed sign-ins; try again in {max(1, wait)} seconds.", wait)


async def failed(broker: Broker, address: str | None, name: str | None = None) -> None:
    await broker.throttle.failed(address)
    if name is not None:
        await broker.throttle.failed(name_key(name))


async def login(
    broker: Broker, name: str, password: str, code: str | None, address: str | None
) -> tuple[User, str, Session]:
    """Check the credentials and start a session: (the user, the cookie's value, the session).

    Raises:
        TooManyRequests: the address or the name is throttled.
        SessionRefused: 401, wrong name or password; 401 with `totp_required` when two-factor is on and the
        code is missing or wrong.
    """
    check_throttle(broker, address, name)
    account = await broker.users.account(name)
    try:
        verified = await broker.users.verify(account, password)
    except ValueError as exc:  # a stored hash this runtime cannot verify (Workers: above the iteration cap)
        log.error("cannot verify the password of %s: %s", name, exc)
        verified = None
    if account is None or verified is None or not verified.ok:
        await failed(broker, address, name)
        raise SessionRefused("wrong-credentials", WRONG)
    second = "none"
    if account.totp_secret is not None:
        second = await _second_factor(broker, account, code, address)
    user, record = await broker.users.logged_in(account, password, verified.outdated)
    entry = broker.audit.record(
        f"user:{user.name}", "user.login", user.name, address=address, details={"second_factor": second}
    )
    session_id, session = await broker.sessions.start(user.name, address, [record, entry])
    return user, session_id, session


async def _second_factor(broker: Broker, account: Account, code: str | None, address: str | None) -> str:
    """ "totp" or "recovery_code": which one was accepted. Raises SessionRefused(totp_required) otherwise."""
    name = account.user.name
    if not code or not code.strip():
        raise SessionRefused(
            "totp-required", "Enter the code from your authenticator app (or a recovery code).", totp_required=True
        )
    if totp.looks_like_code(code):
        if await broker.users.use_totp(account, code):
            return "totp"
    elif await broker.users.use_recovery_code(name, code):
        return "recovery_code"
    await failed(broker, address, name)
    raise SessionRefused(
        "totp-invalid",
        "That code is not right (or was used already); enter the current code from your authenticator app.",
        totp_required=True,
    )
