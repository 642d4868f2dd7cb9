"""`package-broker token ...`: create, list and revoke Composer tokens."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import click

from .common import composer_setup_lines, fail, iso, now, parse_expiry, print_json, render_sql, run, when

if TYPE_CHECKING:
    from ....access.store import Token
    from ....broker import Broker


@click.group()
def token() -> None:
    """Create, list and revoke Composer tokens."""


def token_json(t: Token) -> dict[str, Any]:
    """A token for --json output: every field but the hash, times as ISO 8601."""
    return {
        "id": t.id,
        "description": t.description,
        "token_prefix": t.token_prefix,
        "permission": t.permission,
        "allowed_package_prefixes": t.allowed_package_prefixes,
        "rate_limit": t.rate_limit,
        "expires_at": iso(t.expires_at),
        "revoked_at": iso(t.revoked_at),
        "last_used_at": iso(t.last_used_at),
        "created_at": iso(t.created_at),
        "state": state_of(t),
    }


def state_of(t: Token) -> str:
    if t.revoked_at:
        return "revoked"
    return "expired" if t.expires_at and t.expires_at < now() else "active"


@token.command("create")
@click.option("--description", "-d", required=True, help="Who or what uses the token, e.g. 'CI for acme/shop'.")
@click.option(
    "--permission",
    type=click.Choice(["readonly", "write"]),
    default="readonly",
    show_default=True,
    help="readonly: install packages. write: also publish archives and trigger syncs.",
)
@click.option("--expires", help="Expiry: a date (2027-01-31), date and time, or a duration (30d, 12h, 4w).")
@click.option(
    "--allow-prefix",
    "prefixes",
    multiple=True,
    help="Limit the token to packages starting with this (repeatable), e.g. acme/ or acme/lib-*.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option(
    "--sql",
    "as_sql",
    is_flag=True,
    help="For the Worker: print the SQL to store it (pipe into `wrangler d1 execute --file`).",
)
def token_create(
    description: str, permission: str, expires: str | None, prefixes: tuple[str, ...], as_json: bool, as_sql: bool
) -> None:
    """Create a token and print it (once: only its hash is stored)."""
    expires_at = parse_expiry(expires)
    if as_sql:
        from ....access.store import prepare_token
        from ....errors import InvalidInput

        try:
            made, secret, statements = prepare_token(
                now(),
                description,
                permission=permission,
                expires_at=expires_at,
                allowed_package_prefixes=list(prefixes) or None,
            )
        except InvalidInput as exc:
            fail(str(exc))
        for statement in statements:
            click.echo(render_sql(*statement))
        click.echo(f"Token {made.id} ({made.permission}), shown only now: {secret}", err=True)
        click.echo("Store it with: npx wrangler d1 execute package-broker-db --remote --file <this output>", err=True)
        return

    async def work(broker: Broker) -> tuple[Token, str, str]:
        made, secret = await broker.tokens.create(
            description,
            permission=permission,
            expires_at=expires_at,
            allowed_package_prefixes=list(prefixes) or None,
        )
        from ....catalog.store import PUBLIC_URL

        # The URL the running server said it serves; before any `serve`, where it would listen.
        served = await broker.catalog.state_text(PUBLIC_URL)
        base = broker.settings.base_url or served or f"http://127.0.0.1:{os.environ.get('PORT') or 8080}"
        return made, secret, base

    made, secret, base = run(work)
    if as_json:
        print_json({**token_json(made), "token": secret})
        return
    click.echo(
        f"Created {made.id} ({made.permission}{', expires ' + when(made.expires_at) if made.expires_at else ''})."
    )
    click.echo("The token is shown only now:\n")
    click.echo(f"  {secret}\n")
    click.echo("Use it from a PHP project:")
    for line in composer_setup_lines(base, secret):
        click.echo(f"  {line}")


@token.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (times in ISO 8601).")
def token_list(as_json: bool) -> None:
    """List tokens (never their secrets)."""
    found = run(lambda broker: broker.tokens.all())
    if as_json:
        print_json([token_json(t) for t in found])
        return
    if not found:
        click.echo("No tokens yet. Create one with: package-broker token create --description '...'")
        return
    click.echo(
        f"{'ID':<17} {'PREFIX':<10} {'PERMISSION':<10} {'EXPIRES':<20} {'LAST USED':<20} {'STATE':<8} DESCRIPTION"
    )
    for t in found:
        click.echo(
            f"{t.id:<17} {t.token_prefix:<10} {t.permission:<10} {when(t.expires_at):<20} "
            f"{when(t.last_used_at):<20} {state_of(t):<8} {t.description}"
        )


@token.command("revoke")
@click.argument("token_id")
@click.option(
    "--sql",
    "as_sql",
    is_flag=True,
    help="For the Worker: print the SQL that revokes it (pipe into `wrangler d1 execute --file`).",
)
def token_revoke(token_id: str, as_sql: bool) -> None:
    """Revoke a token by id (see `token list`); it stops working within a second (MEMO_SECONDS)."""
    if as_sql:
        from ....access.store import revoke_statements

        for statement in revoke_statements(token_id, now()):
            click.echo(render_sql(*statement))
        click.echo(
            f"Revoke {token_id} with: npx wrangler d1 execute package-broker-db --remote --file <this output>",
            err=True,
        )
        return
    revoked = run(lambda broker: broker.tokens.revoke(token_id))
    click.echo(f"Revoked {revoked.id} ({revoked.description}).")
