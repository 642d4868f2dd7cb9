"""Dashboard users: list them (any signed-in user), create, change and remove them (admins).

An admin cannot remove or demote the last admin (409). A password set by an admin ends that user's
sessions; so do turning their two-factor off (a lost phone: on Workers there is no `user reset-2fa`) and
removing them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from ...accounts.users import Role, User
from .routing import ApiCall, Route
from .schema import UNSET, Doc, Unset
from .session import Name, Password


@dataclass(frozen=True, slots=True)
class UserCreate:
    name: Name
    password: Password
    role: Role


@dataclass(frozen=True, slots=True)
class UserChange:
    role: Annotated[Role, Doc("admin or viewer")] | Unset = UNSET
    password: Password | Unset = UNSET
    totp_enabled: (
        Annotated[Literal[False], Doc("false turns the user's two-factor off (a lost phone) and ends their sessions")]
        | Unset
    ) = UNSET


async def list_users(call: ApiCall) -> list[User]:
    return await call.ctx.broker.users.all()


async def create_user(call: ApiCall) -> User:
    body: UserCreate = call.body
    return await call.ctx.broker.users.create(body.name, body.password, body.role)


async def change_user(call: ApiCall) -> User:
    body: UserChange = call.body
    users = call.ctx.broker.users
    name = call.params["name"]
    await users.get(name)
    if body.role is not UNSET:  # first: refused for the last admin before anything changes
        await users.set_role(name, body.role)
    if body.password is not UNSET:
        await users.set_password(name, body.password)
    if body.totp_enabled is False:
        await users.disable_totp(name)
        await call.ctx.broker.sessions.end_all(name)
    return await users.get(name)


async def remove_user(call: ApiCall) -> None:
    await call.ctx.broker.users.remove(call.params["name"])


ROUTES: list[Route] = [
    Route("GET", "/api/users", list_users, "Every dashboard user", "users", role="viewer", response=list[User]),
    Route(
        "POST",
        "/api/users",
        create_user,
        "Create a user",
        "users",
        body=UserCreate,
        response=User,
        status=201,
        errors=(409,),
    ),
    Route(
        "PATCH",
        "/api/users/{name}",
        change_user,
        "Change a user's role or password",
        "users",
        body=UserChange,
        response=User,
        errors=(409,),
    ),
    Route(
        "DELETE",
        "/api/users/{name}",
        remove_user,
        "Remove a user (not the last admin)",
        "users",
        status=204,
        errors=(409,),
    ),
]
