"""`package-broker token ...`: create, list, edit and revoke Composer tokens."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import click

from .common import cli_actor, composer_setup_lines, fail, iso, now, parse_expiry, print_json, render_sql, run, when

if TYPE_CHECKING:
    from ....access.grants import MissingRequirement
    from ....access.store import Token
    from ....broker import Broker


@click.group()
def token() -> None:
    """Create, list, edit and revoke Composer tokens."""


def token_json(t: Token) -> dict[str, Any]:
    """A token for --json output: every field but the hash, times as ISO 8601."""
    return {
        "id": t.id,
        "description": t.description,
        "token_prefix": t.token_prefix,
        "permission": t.permission,
        "allowed_package_prefixes": t.allowed_package_prefixes,
        "allowed_packages": t.allowed_packages,
        "rate_limit": t.rate_limit,
        "expires_at": iso(t.expires_at),
        "revoked_at": iso(t.revoked_at),
        "last_used_at": iso(t.last_used_at),
        "created_at": iso(t.created_at),
        "state": state_of(t),
    }


def warn_missing(t: Token, missing: list[MissingRequirement]) -> None:
    """On stderr: each served package the token's packages require but it cannot see, and the grant to add."""
    for item in missing:
        click.echo(
            f"warning: {', '.join(item.required_by)} require{'s' if len(item.required_by) == 1 else ''} "
            f"{item.name}, which this broker serves but {t.id} cannot see: `composer install` will not find it.",
            err=True,
        )
    if missing:
        grants = " ".join(f"--allow-package {item.name}" for item in missing)
        them = "it" if len(missing) == 1 else "them"
        click.echo(f"Grant {them} with: package-broker token edit {t.id} {grants}", err=True)


def grants_text(t: Token) -> str:
    """The token's grants for people: prefixes and names, "all packages", or "no packages"."""
    if not t.restricted:
        return "all packages"
    return ", ".join(t.grants()) or "no packages"


def rate_limit_text(t: Token, default: int) -> str:
    """`default (1000/h)`, `250/h` or `unlimited` (0); the default is the broker's RATE_LIMIT."""
    if t.rate_limit is None:
        return f"default ({default}/h)" if default else "default (unlimited)"
    return f"{t.rate_limit}/h" if t.rate_limit else "unlimited"


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
    help="Let the token see packages whose names start with this (repeatable), with the vendor's slash: "
    "acme/ (every acme package) or acme/lib-* (acme/lib-http, ...).",
)
@click.option(
    "--allow-package",
    "packages",
    multiple=True,
    help="Let the token see this one package (repeatable), e.g. acme/lib. With --allow-prefix: the union.",
)
@click.option(
    "--rate-limit",
    type=click.IntRange(min=0),
    help="Requests per hour for this token; 0 = unlimited. Default: the broker's RATE_LIMIT.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option(
    "--sql",
    "as_sql",
    is_flag=True,
    help="For the Worker: print the SQL to store it (pipe into `wrangler d1 execute --file`).",
)
def token_create(
    description: str,
    permission: str,
    expires: str | None,
    prefixes: tuple[str, ...],
    packages: tuple[str, ...],
    rate_limit: int | None,
    as_json: bool,
    as_sql: bool,
) -> None:
    """Create a token and print it (once: only its hash is stored).

    Without --allow-prefix or --allow-package it sees every package. A token that is limited gets a
    warning (on stderr) for each package this broker serves that its packages require but it cannot see.
    """
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
                allowed_packages=list(packages) or None,
                rate_limit=rate_limit,
            )
        except InvalidInput as exc:
            fail(str(exc))
        from ....audit import statement as audit_entry

        details = {"description": made.description, "permission": made.permission, "expires_at": made.expires_at}
        for statement in [
            *statements,
            audit_entry(made.created_at, cli_actor(), "token.created", made.id, details=details),
        ]:
            click.echo(render_sql(*statement))
        click.echo(f"Token {made.id} ({made.permission}), shown only now: {secret}", err=True)
        click.echo("Store it with: npx wrangler d1 execute package-broker-db --remote --file <this output>", err=True)
        return

    async def work(broker: Broker) -> tuple[Token, str, str, list[MissingRequirement]]:
        from ....access.grants import missing_requirements

        made, secret = await broker.tokens.create(
            description,
            permission=permission,
            expires_at=expires_at,
            allowed_package_prefixes=list(prefixes) or None,
            allowed_packages=list(packages) or None,
            rate_limit=rate_limit,
        )
        from ....catalog.store import PUBLIC_URL

        # The URL the running server said it serves; before any `serve`, where it would listen.
        served = await broker.catalog.state_text(PUBLIC_URL)
        base = broker.settings.base_url or served or f"http://127.0.0.1:{os.environ.get('PORT') or 8080}"
        return made, secret, base, await missing_requirements(made, broker.catalog)

    made, secret, base, missing = run(work)
    warn_missing(made, missing)
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

    async def work(broker: Broker) -> tuple[list[Token], int]:
        return await broker.tokens.all(), broker.settings.rate_limit

    found, default_limit = run(work)
    if as_json:
        print_json([token_json(t) for t in found])
        return
    if not found:
        click.echo("No tokens yet. Create one with: package-broker token create --description '...'")
        return
    rows = [
        (
            t.id,
            t.token_prefix,
            t.permission,
            state_of(t),
            when(t.expires_at),
            when(t.last_used_at),
            rate_limit_text(t, default_limit),
            grants_text(t),
            t.description,
        )
        for t in found
    ]
    header = ("ID", "PREFIX", "PERMISSION", "STATE", "EXPIRES", "LAST USED", "RATE LIMIT", "GRANTS", "DESCRIPTION")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
    for row in [header, *rows]:
        click.echo(" ".join(f"{cell:<{width}}" for cell, width in zip(row, widths, strict=False)) + " " + row[-1])


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
        from ....audit import statement as audit_entry

        at = now()
        for statement in [*revoke_statements(token_id, at), audit_entry(at, cli_actor(), "token.revoked", token_id)]:
            click.echo(render_sql(*statement))
        click.echo(
            f"Revoke {token_id} with: npx wrangler d1 execute package-broker-db --remote --file <this output>",
            err=True,
        )
        return
    revoked = run(lambda broker: broker.tokens.revoke(token_id))
    click.echo(f"Revoked {revoked.id} ({revoked.description}).")


def parse_rate_limit(value: str | None) -> int | None:
    """`--rate-limit` of `token edit`: a number of requests per hour, 0 (unlimited) or `default`."""
    assert value is not None
    if value.strip().lower() == "default":
        return None
    try:
        number = int(value)
    except ValueError:
        raise click.BadParameter(
            "use a number of requests per hour, 0 for unlimited, or default", param_hint="--rate-limit"
        ) from None
    if number < 0:
        raise click.BadParameter("use 0 for unlimited, not a negative number", param_hint="--rate-limit")
    return number


@token.command("edit")
@click.argument("token_id")
@click.option(
    "--rate-limit",
    help="Requests per hour for this token, 0 = unlimited, or `default` (the broker's RATE_LIMIT).",
)
@click.option("--expires", help="New expiry: a date, date and time, or duration (30d, 12h, 4w); `never` removes it.")
@click.option(
    "--allow-prefix",
    "prefixes",
    multiple=True,
    help="Add a prefix grant (repeatable), e.g. acme/plugin-; only to a token that already has grants.",
)
@click.option(
    "--allow-package",
    "packages",
    multiple=True,
    help="Add a package grant (repeatable), e.g. acme/core; only to a token that already has grants.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the token as JSON.")
@click.option(
    "--sql",
    "as_sql",
    is_flag=True,
    help="For the Worker: print the SQL for --rate-limit/--expires (pipe into `wrangler d1 execute --file`).",
)
def token_edit(
    token_id: str,
    rate_limit: str | None,
    expires: str | None,
    prefixes: tuple[str, ...],
    packages: tuple[str, ...],
    as_json: bool,
    as_sql: bool,
) -> None:
    """Change a token's rate limit or expiry, or add grants; it takes effect within MEMO_SECONDS.

    Grants are only added, never removed (revoke the token and create another to narrow it).
    """
    changes: dict[str, Any] = {}
    if rate_limit is not None:
        changes["rate_limit"] = parse_rate_limit(rate_limit)
    if expires is not None:
        changes["expires_at"] = None if expires.strip().lower() == "never" else parse_expiry(expires)
    if not changes and not prefixes and not packages:
        fail("nothing to change: give --rate-limit, --expires, --allow-prefix or --allow-package")
    if as_sql:
        from ....access.store import edit_statements, validate_rate_limit
        from ....audit import statement as audit_entry
        from ....errors import InvalidInput

        if prefixes or packages:
            fail("--sql changes only --rate-limit and --expires; grants are added with the broker's own database")
        at = now()
        try:
            validate_rate_limit(changes.get("rate_limit"))
            if changes.get("expires_at") is not None and changes["expires_at"] <= at:
                raise InvalidInput("the expiry date is in the past")
            statements = edit_statements(token_id, at, changes)
        except InvalidInput as exc:
            fail(str(exc))
        for statement in [*statements, audit_entry(at, cli_actor(), "token.edited", token_id, details=changes)]:
            click.echo(render_sql(*statement))
        click.echo(
            f"Change {token_id} with: npx wrangler d1 execute package-broker-db --remote --file <this output>",
            err=True,
        )
        return

    async def work(broker: Broker) -> tuple[Token, int, list[MissingRequirement]]:
        from ....access.grants import missing_requirements

        edited = await broker.tokens.edit(
            token_id, changes, add_prefixes=list(prefixes) or None, add_packages=list(packages) or None
        )
        missing = await missing_requirements(edited, broker.catalog) if prefixes or packages else []
        return edited, broker.settings.rate_limit, missing

    edited, default_limit, missing = run(work)
    warn_missing(edited, missing)
    if as_json:
        print_json(token_json(edited))
        return
    click.echo(
        f"Changed {edited.id} ({edited.description}): rate limit {rate_limit_text(edited, default_limit)}, "
        f"expires {when(edited.expires_at) if edited.expires_at else 'never'}, grants: {grants_text(edited)}."
    )
