"""Running the broker: `serve`, `migrate`, `sync` and `publish`."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .common import composer_setup_lines, fail, print_json, run

if TYPE_CHECKING:
    from ....broker import Broker
    from ....sources.store import Source


@click.command()
@click.option("--host", help="Address to listen on (default: $HOST or 127.0.0.1; 0.0.0.0 in Docker).")
@click.option("--port", type=int, help="Port to listen on (default: $PORT or 8080).")
@click.option("--workers", type=int, help="Worker processes (default: $WORKERS or 1).")
def serve(host: str | None, port: int | None, workers: int | None) -> None:
    """Run the broker (migrates first; creates a first token if there is none)."""
    from .... import __version__
    from ....errors import ConfigError
    from ..bootstrap import load_settings
    from ..serve import claim_port
    from ..serve import run as run_server
    from ..settings import ServerSettings

    try:
        # The port first: nothing (a key, a database, a token) is created for a broker that cannot listen.
        listen = ServerSettings.from_mapping(os.environ)
        host, port = host or listen.host, port or listen.port
        try:
            claim_port(host, port)
        except OSError as exc:
            fail(
                f"cannot listen on {host}:{port}: {exc.strerror} (is another broker running there? "
                "set PORT to use another port)"
            )
        settings, server, _ = load_settings(os.environ)
    except ConfigError as exc:
        fail(f"{exc.variable}: {exc.problem}", 2)

    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    base = settings.base_url or f"http://{shown_host}:{port}"

    async def prepare(broker: Broker) -> tuple[str | None, bool]:
        from ....catalog.store import PUBLIC_URL, state_statement

        # Remembered for `token create`, which prints the `composer config` lines for this URL.
        await broker.ports.db.batch([state_statement(PUBLIC_URL, base, broker.clock.now())])
        no_user = not await broker.users.exists()
        if await broker.tokens.all():
            return None, no_user
        _, secret = await broker.tokens.create("first token, created by serve", permission="write")
        return secret, no_user

    secret, no_user = run(prepare, create=True)
    workers = workers or server.workers
    click.echo(f"PACKAGE.broker {__version__} on http://{host}:{port}  (data: {server.data_dir})", err=True)
    if secret:
        click.echo("\nA first token was created (write permission). It is shown only now; keep it safe:\n", err=True)
        click.echo(f"  {secret}\n", err=True)
        click.echo("Use it from a PHP project:\n", err=True)
        for line in composer_setup_lines(base, secret):
            click.echo(f"  {line}", err=True)
    else:
        click.echo("Create a token for Composer with: package-broker token create --description 'my laptop'", err=True)
    if no_user:
        click.echo("The dashboard has no user yet; create its first admin with:", err=True)
        click.echo("  package-broker user create NAME --role admin", err=True)
    click.echo(f"\nHealth: {base}/health   Logs: JSON lines on stdout\n", err=True)
    run_server(host, port, workers)


@click.command("migrate")
def migrate_command() -> None:
    """Apply pending database migrations."""
    from ..bootstrap import migrate

    async def work(broker: Broker) -> None:
        names = await migrate(broker)
        click.echo("applied: " + ", ".join(names) if names else "schema is up to date")

    run(work, migrate_first=False, create=True)


@click.command()
def init() -> None:
    """Create a broker here (DATA_DIR): its database, its encryption key, its first token."""
    from ..bootstrap import migrate

    async def work(broker: Broker) -> tuple[str | None, str]:
        await migrate(broker)
        secret = None
        if not await broker.tokens.all():
            _, secret = await broker.tokens.create("first token, created by init", permission="write")
        return secret, os.environ.get("DATA_DIR") or "./package-broker-data"

    secret, where = run(work, migrate_first=False, create=True)
    click.echo(f"A broker lives in {Path(where).resolve()}; run `package-broker serve` next to it.")
    if secret:
        click.echo(f"\nIts first token (write permission), shown only now:\n\n  {secret}\n")


@click.command()
@click.argument("source_ids", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print each source's report as JSON.")
def sync(source_ids: tuple[str, ...], as_json: bool) -> None:
    """Sync all sources now (or only the given ones). Exits 1 if a source failed or was busy."""
    from dataclasses import asdict

    from ....sources.job import sync_all

    progress = _progress_bar if sys.stderr.isatty() and not as_json else None
    reports = run(lambda broker: sync_all(broker, list(source_ids) or None, progress=progress))
    if as_json:
        print_json([asdict(report) for report in reports])
    for report in [] if as_json else reports:  # one line per source, in the order they were listed
        click.echo(f"{report.source_id}: {report.status}: {report.message}")
    # A busy source was not synced by this command: that is not success either.
    if any(r.status in ("error", "busy") for r in reports):
        raise SystemExit(1)


@contextlib.contextmanager
def _progress_bar(_first: Source, count: int) -> Iterator[Callable[[Source], None]]:
    """click's progress bar on stderr while sources sync (stdout keeps the report lines)."""
    current: list[str] = [""]
    shown: Callable[[int | None], str | None] = lambda _: current[0]  # noqa: E731
    with click.progressbar(length=count, label="Syncing", file=sys.stderr, item_show_func=shown, show_pos=True) as bar:

        def step(source: Source) -> None:
            if current[0]:
                bar.update(1)
            current[0] = f"{source.id} ({source.kind} {source.url})"
            bar.render_progress()

        yield step
        bar.update(1)


@click.command()
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--version", "version", help="Version to publish as, if composer.json has none.")
@click.option("--replace", is_flag=True, help="Replace an existing version that has a different archive.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def publish(archive: Path, version: str | None, replace: bool, as_json: bool) -> None:
    """Publish a zip (with composer.json inside) as a package version."""
    from ....artifacts.publish import publish_archive
    from ....errors import BrokerError

    async def work(broker: Broker) -> Any:
        limit = broker.settings.max_upload_bytes
        if archive.stat().st_size > limit:
            raise BrokerError(f"{archive} is larger than MAX_UPLOAD_BYTES ({limit} bytes)")
        with archive.open("rb") as file:
            return await publish_archive(broker, file, version=version, replace=replace)

    published = run(work)
    if as_json:
        from dataclasses import asdict

        print_json(asdict(published))
        return
    verb = "Published" if published.changed else "Already published:"
    click.echo(f"{verb} {published.name} {published.version} ({published.reference[:12]}, {published.size} bytes)")
