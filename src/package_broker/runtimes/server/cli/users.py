"""`package-broker user ...`: the dashboard's users (the first admin is made here on the server)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import click

from .common import fail, iso, print_json, run, when

if TYPE_CHECKING:
    from ....accounts.users import User
    from ....broker import Broker

_ROLE = click.Choice(["admin", "viewer"])


@click.group()
def user() -> None:
    """Create, list and change the dashboard's users (admin: manages everything; viewer: reads)."""


def user_json(u: User) -> dict[str, Any]:
    return {**u.to_json(), "created_at": iso(u.created_at), "last_login_at": iso(u.last_login_at)}


def _password(env_var: str | None) -> str:
    """The new password: from the variable named by --password-env, else asked twice on the terminal."""
    if env_var:
        value = os.environ.get(env_var)
        if not value:
            fail(f"--password-env {env_var}: that variable is not set or empty")
        return value
    value = click.prompt("Password (at least 12 characters)", hide_input=True, confirmation_prompt=True)
    return str(value)


_password_env = click.option(
    "--password-env",
    metavar="VAR",
    help="Read the password from this environment variable instead of asking (for scripts; never an argument, "
    "which other users could see in the process list).",
)


@user.command("create")
@click.argument("name")
@click.option("--role", type=_ROLE, default="viewer", show_default=True, help="admin or viewer.")
@_password_env
@click.option("--json", "as_json", is_flag=True, help="Print the user as JSON.")
def user_create(name: str, role: str, password_env: str | None, as_json: bool) -> None:
    """Create a dashboard user NAME (lower-case letters, digits, . _ @ -)."""
    from ....accounts.users import check_name
    from ....errors import InvalidInput

    try:
        check_name(name)  # before asking for a password
    except InvalidInput as exc:
        fail(str(exc))
    password = _password(password_env)

    async def work(broker: Broker) -> User:
        return await broker.users.create(name, password, role)

    made = run(work)
    if as_json:
        print_json(user_json(made))
        return
    click.echo(f"Created {made.role} {made.name}: sign in to the dashboard with this name and password.")


@user.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (times in ISO 8601).")
def user_list(as_json: bool) -> None:
    """List the dashboard's users (never a password hash or a two-factor secret)."""

    async def work(broker: Broker) -> list[User]:
        return await broker.users.all()

    found = run(work)
    if as_json:
        print_json([user_json(u) for u in found])
        return
    if not found:
        click.echo("No users yet. Create the first admin with: package-broker user create NAME --role admin")
        return
    click.echo(f"{'NAME':<24} {'ROLE':<7} {'2FA':<4} {'CREATED':<21} LAST SIGN-IN")
    for u in found:
        two_factor = "on" if u.totp_enabled else "off"
        click.echo(f"{u.name:<24} {u.role:<7} {two_factor:<4} {when(u.created_at):<21} {when(u.last_login_at)}")


@user.command("remove")
@click.argument("name")
def user_remove(name: str) -> None:
    """Remove a user and end their sessions (not the last admin)."""

    async def work(broker: Broker) -> None:
        await broker.users.remove(name)

    run(work)
    click.echo(f"Removed {name}.")


@user.command("set-role")
@click.argument("name")
@click.argument("role", type=_ROLE)
def user_set_role(name: str, role: str) -> None:
    """Make a user an admin or a viewer (the last admin stays admin)."""

    async def work(broker: Broker) -> User:
        return await broker.users.set_role(name, role)

    changed = run(work)
    click.echo(f"{changed.name} is now {changed.role}.")


@user.command("reset-password")
@click.argument("name")
@_password_env
def user_reset_password(name: str, password_env: str | None) -> None:
    """Set a new password for a user and end their sessions."""
    password = _password(password_env)

    async def work(broker: Broker) -> None:
        await broker.users.set_password(name, password)

    run(work)
    click.echo(f"New password set for {name}; their sessions have ended.")


@user.command("reset-2fa")
@click.argument("name")
def user_reset_2fa(name: str) -> None:
    """Turn a user's two-factor off (lost phone and recovery codes); they can set it up again."""

    async def work(broker: Broker) -> None:
        await broker.users.disable_totp(name)
        await broker.sessions.end_all(name)

    run(work)
    click.echo(f"Two-factor is off for {name} and their sessions have ended; they sign in with the password alone.")


@user.command("logout")
@click.argument("name")
def user_logout(name: str) -> None:
    """End every session of a user (signed out everywhere)."""

    async def work(broker: Broker) -> int:
        await broker.users.get(name)
        return await broker.sessions.end_all(name)

    ended = run(work)
    click.echo(f"Ended {ended} session{'s' if ended != 1 else ''} of {name}.")
