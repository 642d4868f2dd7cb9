"""The `package-broker` command line: serve, migrate, tokens, sources, sync, publish.

Every command reads the same environment as the server (DATA_DIR, DB_URL, ...) and applies pending
migrations first, so commands work on a fresh machine in any order. Configuration errors end the command
with one line naming the variable; nothing prints a secret except `token create`, once, on purpose.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn, TypeVar
from urllib.parse import urlsplit, urlunsplit

import click

from ... import __version__, logs
from ...artifacts.publish import publish_archive
from ...broker import Broker
from ...errors import BrokerError, ConfigError
from ...sync.job import sync_all, sync_source
from .bootstrap import build_broker, load_settings, migrate

T = TypeVar("T")


def _fail(message: str, code: int = 1) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    raise SystemExit(code)


def _run(work: Callable[[Broker], Awaitable[T]], *, migrate_first: bool = True) -> T:
    """Open the broker from the environment, bring the schema up to date, run `work`, close."""

    async def main() -> T:
        broker = await build_broker(os.environ)
        try:
            if migrate_first:
                await migrate(broker)
            return await work(broker)
        finally:
            await broker.close()

    try:
        return asyncio.run(main())
    except ConfigError as exc:
        _fail(f"{exc.variable}: {exc.problem}", 2)
    except BrokerError as exc:
        _fail(str(exc))
    raise AssertionError("unreachable")


def _date(timestamp: int | None) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M") if timestamp else "-"


def _parse_expiry(value: str | None) -> int | None:
    if not value:
        return None
    now = int(datetime.now(UTC).timestamp())
    if match := re.fullmatch(r"(\d+)([hdw])", value.strip()):
        return now + int(match[1]) * {"h": 3600, "d": 86400, "w": 7 * 86400}[match[2]]
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise click.BadParameter(
            "use a date (2027-01-31), a date and time, or a duration such as 30d, 12h, 4w"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def render_sql(sql: str, params: Any) -> str:
    """A statement with its values inlined as SQL literals, for `npx wrangler d1 execute --file`."""

    def literal(value: Any) -> str:
        if value is None:
            return "NULL"
        if isinstance(value, bool | int | float):
            return str(int(value) if isinstance(value, bool) else value)
        return "'" + str(value).replace("'", "''") + "'"

    parts = sql.split("?")
    if len(parts) != len(params) + 1:
        raise ValueError("placeholder count does not match the values")
    return "".join(part + literal(value) for part, value in zip(parts, params, strict=False)) + parts[-1] + ";"


def _worker_key() -> bytes:
    """The Worker's ENCRYPTION_KEY, which --sql output must be sealed with: never a locally generated one."""
    from ...config import decode_encryption_key

    value = os.environ.get("ENCRYPTION_KEY", "").strip()
    if not value:
        _fail("ENCRYPTION_KEY: set it to the Worker's secret (the value given to `wrangler secret put`)", 2)
    try:
        return decode_encryption_key(value)
    except ConfigError as exc:
        _fail(f"{exc.variable}: {exc.problem}", 2)


def composer_setup_lines(base_url: str, secret: str) -> list[str]:
    """The commands a developer runs in their project to use this broker."""
    origin = urlsplit(base_url).netloc
    lines = [
        f"composer config repositories.package-broker composer {base_url}",
        f"composer config http-basic.{origin} token {secret}",
    ]
    if base_url.startswith("http://"):
        lines.append("composer config secure-http false    # plain HTTP: local testing only")
    return lines


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="package-broker")
def main() -> None:
    """PACKAGE.broker: a private Composer repository.

    Configuration comes from the environment (DATA_DIR, DB_URL, STORAGE_PATH, CACHE_DRIVER, PORT,
    BASE_URL, ENCRYPTION_KEY, ...); see README.md.
    """
    # Commands print their results on stdout; their log lines (warnings) go to stderr.
    logs.configure(os.environ.get("LOG_LEVEL", "warning"), stream=sys.stderr)


@main.command()
@click.option("--host", help="Address to listen on (default: $HOST or 127.0.0.1; 0.0.0.0 in Docker).")
@click.option("--port", type=int, help="Port to listen on (default: $PORT or 8080).")
@click.option("--workers", type=int, help="Worker processes (default: $WORKERS or 1).")
def serve(host: str | None, port: int | None, workers: int | None) -> None:
    """Run the broker (migrates first; creates a first token if there is none)."""
    from ...config import ServerSettings
    from .serve import claim_port, run

    try:
        # The port first: nothing (a key, a database, a token) is created for a broker that cannot listen.
        listen = ServerSettings.from_mapping(os.environ)
        host, port = host or listen.host, port or listen.port
        try:
            claim_port(host, port)
        except OSError as exc:
            _fail(
                f"cannot listen on {host}:{port}: {exc.strerror} (is another broker running there? "
                "set PORT to use another port)"
            )
        settings, server, _ = load_settings(os.environ)
    except ConfigError as exc:
        _fail(f"{exc.variable}: {exc.problem}", 2)

    async def prepare(broker: Broker) -> str | None:
        if await broker.tokens.all():
            return None
        _, secret = await broker.tokens.create("first token, created by serve", permission="write")
        return secret

    secret = _run(prepare)
    workers = workers or server.workers
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    base = settings.base_url or f"http://{shown_host}:{port}"
    click.echo(f"PACKAGE.broker {__version__} on http://{host}:{port}  (data: {server.data_dir})", err=True)
    if secret:
        click.echo("\nA first token was created (write permission). It is shown only now; keep it safe:\n", err=True)
        click.echo(f"  {secret}\n", err=True)
        click.echo("Use it from a PHP project:\n", err=True)
        for line in composer_setup_lines(base, secret):
            click.echo(f"  {line}", err=True)
    else:
        click.echo("Create a token for Composer with: package-broker token create --description 'my laptop'", err=True)
    click.echo(f"\nHealth: {base}/health   Logs: JSON lines on stdout\n", err=True)
    run(host, port, workers)


@main.command("migrate")
def migrate_command() -> None:
    """Apply pending database migrations."""

    async def work(broker: Broker) -> None:
        names = await migrate(broker)
        click.echo("applied: " + ", ".join(names) if names else "schema is up to date")

    _run(work, migrate_first=False)


@main.group()
def token() -> None:
    """Create, list and revoke Composer tokens."""


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
    expires_at = _parse_expiry(expires)
    if as_sql:
        from ...access.store import prepare_token
        from ...errors import InvalidInput

        try:
            made, secret, statements = prepare_token(
                int(datetime.now(UTC).timestamp()),
                description,
                permission=permission,
                expires_at=expires_at,
                allowed_package_prefixes=list(prefixes) or None,
            )
        except InvalidInput as exc:
            _fail(str(exc))
        for statement in statements:
            click.echo(render_sql(*statement))
        click.echo(f"Token {made.id} ({made.permission}), shown only now: {secret}", err=True)
        click.echo("Store it with: npx wrangler d1 execute package-broker-db --remote --file <this output>", err=True)
        return

    async def work(broker: Broker) -> tuple[Any, str, str]:
        made, secret = await broker.tokens.create(
            description,
            permission=permission,
            expires_at=expires_at,
            allowed_package_prefixes=list(prefixes) or None,
        )
        base = broker.settings.base_url or f"http://127.0.0.1:{os.environ.get('PORT') or 8080}"
        return made, secret, base

    made, secret, base = _run(work)
    if as_json:
        click.echo(
            json.dumps({"id": made.id, "token": secret, "permission": made.permission, "expires_at": made.expires_at})
        )
        return
    click.echo(
        f"Created {made.id} ({made.permission}{', expires ' + _date(made.expires_at) if made.expires_at else ''})."
    )
    click.echo("The token is shown only now:\n")
    click.echo(f"  {secret}\n")
    click.echo("Use it from a PHP project:")
    for line in composer_setup_lines(base, secret):
        click.echo(f"  {line}")


@token.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def token_list(as_json: bool) -> None:
    """List tokens (never their secrets)."""
    found = _run(lambda broker: broker.tokens.all())
    if as_json:
        from dataclasses import asdict

        click.echo(json.dumps([asdict(t) for t in found], indent=2))
        return
    if not found:
        click.echo("No tokens yet. Create one with: package-broker token create --description '...'")
        return
    click.echo(
        f"{'ID':<17} {'PREFIX':<10} {'PERMISSION':<10} {'EXPIRES':<16} {'LAST USED':<16} {'STATE':<8} DESCRIPTION"
    )
    for t in found:
        state = (
            "revoked"
            if t.revoked_at
            else ("expired" if t.expires_at and t.expires_at < datetime.now(UTC).timestamp() else "active")
        )
        click.echo(
            f"{t.id:<17} {t.token_prefix:<10} {t.permission:<10} {_date(t.expires_at):<16} "
            f"{_date(t.last_used_at):<16} {state:<8} {t.description}"
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
        from ...access.store import revoke_statements

        for statement in revoke_statements(token_id, int(datetime.now(UTC).timestamp())):
            click.echo(render_sql(*statement))
        click.echo(
            f"Revoke {token_id} with: npx wrangler d1 execute package-broker-db --remote --file <this output>",
            err=True,
        )
        return
    revoked = _run(lambda broker: broker.tokens.revoke(token_id))
    click.echo(f"Revoked {revoked.id} ({revoked.description}).")


@main.group()
def source() -> None:
    """Register package sources: git repositories and Composer repositories to mirror."""


def _split_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
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
            _fail(f"{url} is neither a URL nor an existing directory")
        url = str(path.resolve())
    url, credentials = _split_credentials(url)
    if password_env:
        secret = os.environ.get(password_env)
        if not secret:
            _fail(f"--password-env {password_env}: that variable is empty or not set")
        credentials = (username or (credentials[0] if credentials else ""), secret)
    values: dict[str, str] | None = None
    if credentials:
        values = {"username": credentials[0], "password": credentials[1]}
        if kind == "composer" and not credentials[0]:
            values = {"token": credentials[1]}
    options = {"packages": [p.lower() for p in packages]} if packages else None
    if as_sql:
        from ...crypto.credentials import seal_json
        from ...sources.store import prepare_source
        from .cipher import CryptographyCipher

        sealed_sql = asyncio.run(seal_json(CryptographyCipher(), _worker_key(), values)) if values else None
        source_id, insert = prepare_source(int(datetime.now(UTC).timestamp()), kind, url, sealed_sql, options)
        click.echo(render_sql(*insert))
        click.echo(
            f"Source {source_id}; store it with: npx wrangler d1 execute package-broker-db --remote --file "
            "<this output>",
            err=True,
        )
        return

    async def work(broker: Broker) -> Any:
        sealed = await broker.seal_credentials(values) if values else None
        added = await broker.sources.add(kind, url, sealed, options)
        report = None if no_sync else await sync_source(broker, added)
        return added, report

    added, report = _run(work)
    click.echo(f"Added {added.id}: {kind} {added.url}" + (" (credentials stored encrypted)" if values else ""))
    if report is not None:
        click.echo(f"Sync: {report.status}: {report.message}")
        if report.status == "error":
            raise SystemExit(1)


@source.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def source_list(as_json: bool) -> None:
    """List sources with their sync status."""
    found = _run(lambda broker: broker.sources.all())
    if as_json:
        from dataclasses import asdict

        click.echo(json.dumps([{k: v for k, v in asdict(s).items() if k != "credentials"} for s in found], indent=2))
        return
    for s in found:
        click.echo(f"{s.id:<16} {s.kind:<9} {s.status:<8} synced {_date(s.last_synced_at):<16} {s.url}")
        if s.status_message:
            click.echo(f"{'':<16} {s.status_message}")


@main.command()
@click.argument("source_ids", nargs=-1)
def sync(source_ids: tuple[str, ...]) -> None:
    """Sync all sources now (or only the given ones)."""
    reports = _run(lambda broker: sync_all(broker, list(source_ids) or None))
    for report in reports:
        click.echo(f"{report.source_id}: {report.status}: {report.message}")
    # A busy source was not synced by this command: that is not success either.
    if any(r.status in ("error", "busy") for r in reports):
        raise SystemExit(1)


@main.command()
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--version", "version", help="Version to publish as, if composer.json has none.")
@click.option("--replace", is_flag=True, help="Replace an existing version that has a different archive.")
def publish(archive: Path, version: str | None, replace: bool) -> None:
    """Publish a zip (with composer.json inside) as a package version."""

    async def work(broker: Broker) -> Any:
        limit = broker.settings.max_upload_bytes
        if archive.stat().st_size > limit:
            raise BrokerError(f"{archive} is larger than MAX_UPLOAD_BYTES ({limit} bytes)")
        with archive.open("rb") as file:
            return await publish_archive(broker, file, version=version, replace=replace)

    published = _run(work)
    verb = "Published" if published.changed else "Already published:"
    click.echo(f"{verb} {published.name} {published.version} ({published.reference[:12]}, {published.size} bytes)")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
