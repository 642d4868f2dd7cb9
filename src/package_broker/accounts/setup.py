"""First-run setup: who may create the first admin.

Never an anonymous visitor. On the server the first admin is made with `package-broker user create NAME
--role admin` by whoever runs the broker. On Workers there is no shell, so `POST /api/setup` creates it, and
only with the SETUP_SECRET the operator set (`npx wrangler secret put SETUP_SECRET`), compared in constant
time, and only while no user exists (the INSERT itself checks, so two racing requests cannot both succeed).
A wrong secret and "a user exists already" get the same 403; wrong secrets count against the address in the
failure throttle. The server takes SETUP_SECRET the same way, through the same code.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Literal

from ..audit import acting_as
from ..errors import Conflict
from .login import check_throttle, failed
from .passwords import utf8
from .sessions import Session
from .users import User
from .web import SessionRefused

if TYPE_CHECKING:
    from ..broker import Broker

REFUSED = "Setup is not available: a user exists already, or the setup secret is not right."


async def status(broker: Broker) -> tuple[bool, Literal["secret", "cli"]]:
    """(whether setup is needed, i.e. no user exists; how: "secret" with SETUP_SECRET, else "cli")."""
    needed = not await broker.users.exists()
    return needed, "secret" if broker.settings.setup_secret is not None else "cli"


async def claim(
    broker: Broker, secret: str, name: str, password: str, address: str | None
) -> tuple[User, str, Session]:
    """Create the first admin and sign them in: (the user, the cookie's value, the session).

    Raises:
        TooManyRequests: the address is throttled. SessionRefused(403): no SETUP_SECRET, a wrong one, or a
        user exists. InvalidInput: a bad name or password (nothing is created).
    """
    check_throttle(broker, address)
    configured = broker.settings.setup_secret
    right = configured is not None and hmac.compare_digest(utf8(secret), utf8(configured.reveal()))
    if not right:
        await failed(broker, address)
        raise SessionRefused("setup-refused", REFUSED, 403)
    if await broker.users.exists():
        raise SessionRefused("setup-refused", REFUSED, 403)
    try:
        with acting_as("setup", address):  # the audit log's actor: first-run setup with the secret
            user = await broker.users.create(name, password, "admin", first=True)
    except Conflict:  # another request created the first user meanwhile
        raise SessionRefused("setup-refused", REFUSED, 403) from None
    entry = broker.audit.record(f"user:{user.name}", "user.login", user.name, address=address, details={"setup": True})
    session_id, session = await broker.sessions.start(user.name, address, [entry])
    return user, session_id, session
