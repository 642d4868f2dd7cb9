"""`package-broker source ...`: register the git repositories and Composer repositories to serve."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import click

from .common import fail, iso, now, print_json, render_sql, run, when, worker_key

if TYPE_CHECKING:
    from ....broker import Broker
    from ....sources.store import Source


@click.group()
def source() -> None:
    """Register package sources: git repositories and Composer repositories to mirror."""


def source_json(s: Source) -> dict[str, Any]:
    """A source for --json output: never its credentials, times as ISO 8601."""
    return {
        "id": s.id,
        "kind": s.kind,
        "url": s.url,
        "has_credentials": s.credentials is not None,
        "options": s.option("packages") and {"packages": s.option("packages")},
        "status": s.status,
        "status_message": s.status_message,
        "last_synced_at": iso(s.last_synced_at),
        "sync_cursor": s.sync_cursor,
        "created_at": iso(s.created_at),
    }


def split_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """Move `user:password@` out of an http(s) URL (credentials are stored sealed, the URL in clear)."""
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and (parts.username or parts.password):
        netloc = parts.hostname or ""
        if parts.port:
            netloc += f":{parts.port}"
        return urlunsplit(parts._replace(netloc=netloc)), (parts.username or "", parts.password or "")
    return url, None


@source.command("add")
@click.argument("kind", type=click.Choice(["git", "composer"]))
@click.argument("url")
@click.option(
    "--package",
    "packages",
    multiple=True,
    help="composer: mirror only these packages (repeatable); default: all it lists.",
)
@click.option("--username", help="Upstream user (or put user:password@ in an https URL).")
@click.option("--password-env", metavar="VAR", help="Read the upstream password or token from this variable.")
@click.option("--no-sync", is_flag=True, help="Only register it; the next scheduled sync reads it.")
@click.option(
    "--sql",
    "as_sql",
    is_flag=True,
    help="For the Worker: print the SQL that registers it (credentials sealed with $ENCRYPTION_KEY).",
)
def source_add(
    kind: str,
    url: str,
    packages: tuple[str, ...],
    username: str | None,
    password_env: str | None,
    no_sync: bool,
    as_sql: bool,
) -> None:
    """Add a source.

    \b
    git URL       a git repository: a local path, file://, https:// or an SSH URL
    composer URL  another Composer 2 repository to mirror (Satis, Private Packagist, another broker)

    Credentials are stored encrypted with ENCRYPTION_KEY and never printed.
    """
    if kind == "git" and "://" not in url and not re.match(r"^[\w.-]+@[\w.-]+:", url):
        path = Path(url).expanduser()
        if not path.exists():
            fail(f"{url} is neither a URL nor an existing directory")
        url = str(path.resolve())
    url, credentials = split_credentials(url)
    if password_env:
        secret = os.environ.get(password_env)
        if not secret:
            fail(f"--password-env {password_env}: that variable is empty or not set")
        credentials = (username or (credentials[0] if credentials else ""), secret)
    values: dict[str, str] | None = None
    if credentials:
        values = {"username": credentials[0], "password": credentials[1]}
        if kind == "composer" and not credentials[0]:
            values = {"token": credentials[1]}
    options = {"packages": [p.lower() for p in packages]} if packages else None
    if as_sql:
        import asyncio

        from ....crypto.credentials import seal_json
        from ....errors import InvalidInput
        from ....sources.store import prepare_source
        from ..cipher import CryptographyCipher

        sealed_sql = asyncio.run(seal_json(CryptographyCipher(), worker_key(), values)) if values else None
        try:
            source_id, insert = prepare_source(now(), kind, url, sealed_sql, options)
        except InvalidInput as exc:
            fail(str(exc))
        click.echo(render_sql(*insert))
        click.echo(
            f"Source {source_id}; store it with: npx wrangler d1 execute package-broker-db --remote --file "
            "<this output>",
            err=True,
        )
        return

    async def work(broker: Broker) -> Any:
        from ....sync.job import sync_source

        sealed = await broker.seal_credentials(values) if values else None
        added = await broker.sources.add(kind, url, sealed, options)
        report = None if no_sync else await sync_source(broker, added)
        return added, report

    added, report = run(work)
    click.echo(f"Added {added.id}: {kind} {added.url}" + (" (credentials stored encrypted)" if values else ""))
    if report is not None:
        click.echo(f"Sync: {report.status}: {report.message}")
        if report.status == "error":
            raise SystemExit(1)


@source.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (times in ISO 8601).")
def source_list(as_json: bool) -> None:
    """List sources with their sync status."""
    found = run(lambda broker: broker.sources.all())
    if as_json:
        print_json([source_json(s) for s in found])
        return
    for s in found:
        click.echo(f"{s.id:<16} {s.kind:<9} {s.status:<8} synced {when(s.last_synced_at):<20} {s.url}")
        if s.status_message:
            click.echo(f"{'':<16} {s.status_message}")
