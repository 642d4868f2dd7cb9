"""`package-broker source add packagist [URL]` and `package-broker vendor ...`: the lazy mirror and the
vendors it must never serve (catalog/mirror.py decides; this only asks and prints)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from .common import cli_actor, fail, iso, now, print_json, render_sql, run, when, worker_key

if TYPE_CHECKING:
    from ....broker import Broker
    from ....catalog.admin import PackageDetail
    from ....sources.lazy_mirror import MirrorStatus


def add_packagist(url: str | None, github_token: str | None, no_sync: bool, as_json: bool, as_sql: bool) -> None:
    """`source add packagist [URL] [--token-env VAR]`: the lazy mirror, then its first sync (reads the
    upstream's root file). The token (GitHub's, for dists on api.github.com) is stored sealed."""
    from ....catalog.mirror import MIRROR_KIND
    from ....sources.lazy_mirror import DEFAULT_URL

    if as_sql:
        import asyncio

        from ....audit import statement
        from ....cache import bump_statement
        from ....crypto.credentials import seal_json
        from ....errors import InvalidInput
        from ....sources.store import prepare_source
        from ..cipher import CryptographyCipher

        chosen = (url or DEFAULT_URL).rstrip("/")
        values = {"token": github_token} if github_token else None
        sealed = asyncio.run(seal_json(CryptographyCipher(), worker_key(), values)) if values else None
        try:
            source_id, insert = prepare_source(now(), MIRROR_KIND, chosen, sealed)
        except InvalidInput as exc:
            fail(str(exc))
        click.echo(render_sql(*insert))
        details = {"kind": MIRROR_KIND, "url": chosen}
        click.echo(render_sql(*statement(now(), cli_actor(), "source.added", source_id, details=details)))
        click.echo(render_sql(*bump_statement(now())))
        click.echo(
            f"Source {source_id}; store it with: npx wrangler d1 execute package-broker-db --remote --file "
            "<this output>",
            err=True,
        )
        return

    async def work(broker: Broker) -> Any:
        from ....sources.job import sync_source
        from ....sources.lazy_mirror import add_lazy_mirror

        added = await add_lazy_mirror(broker, url, github_token)
        return added, None if no_sync else await sync_source(broker, added)

    added, report = run(work)
    if as_json:
        from dataclasses import asdict

        print_json({"id": added.id, "kind": added.kind, "url": added.url, "sync": asdict(report) if report else None})
    else:
        click.echo(f"Added {added.id}: lazy mirror of {added.url}")
        click.echo("Names are fetched when a client first asks for them; private sources and vendors always win.")
        if report is not None:
            click.echo(f"Sync: {report.status}: {report.message}")
    if report is not None and report.status == "error":
        raise SystemExit(1)


async def shown_package(broker: Broker, name: str) -> tuple[PackageDetail | None, MirrorStatus]:
    """`package show`: the private package (None when no private source serves it) and the mirror's view."""
    from ....catalog.admin import show_package
    from ....errors import NotFound
    from ....sources.lazy_mirror import mirror_status

    status = await mirror_status(broker, name)
    try:
        return await show_package(broker, name), status
    except NotFound:
        if not status.files:
            raise
        return None, status


def print_status(status: MirrorStatus, as_json: bool) -> dict[str, Any] | None:
    """The mirror's part of `package show`: the decision and the files held (JSON: returned, not printed)."""
    data = {
        "source_id": status.source_id,
        "may_mirror": status.mirror,
        "decision": status.reason,
        "files": [
            {"file": f, "status": s, "versions": n, "checked_at": iso(c), "modified_at": iso(m)}
            for f, s, n, c, m in status.files
        ],
    }
    if as_json:
        return data
    click.echo(f"mirror: {status.reason}")
    for file, state, count, checked, _modified in status.files:
        used = "" if status.mirror else "  (not served)"
        click.echo(f"  {file:<40} {state:<8} {count:>4} versions  checked {when(checked)}{used}")
    return None


@click.group()
def vendor() -> None:
    """Vendors whose names a mirror must never serve (dependency confusion)."""


@vendor.command("private")
@click.argument("names", nargs=-1, required=True)
def vendor_private(names: tuple[str, ...]) -> None:
    """Mark vendors private: no name under them is ever fetched from a mirror (what it held is dropped)."""

    async def work(broker: Broker) -> list[tuple[str, list[str]]]:
        return [(n.lower().rstrip("/"), await broker.mirror.store.mark_private(n)) for n in names]

    for name, dropped in run(work):
        extra = f"; dropped the mirrored {', '.join(dropped)}" if dropped else ""
        click.echo(f"{name} is private: its names are never mirrored{extra}.")


@vendor.command("public")
@click.argument("names", nargs=-1, required=True)
def vendor_public(names: tuple[str, ...]) -> None:
    """Let a mirror serve a vendor's names again (those no private source serves)."""

    async def work(broker: Broker) -> None:
        for name in names:
            await broker.mirror.store.mark_private(name, private=False)

    run(work)
    click.echo(f"{', '.join(n.lower() for n in names)}: names no private source serves may be mirrored again.")


@vendor.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def vendor_list(as_json: bool) -> None:
    """The private vendors."""
    found = run(lambda broker: broker.mirror.store.private_vendors())
    if as_json:
        print_json(found)
    elif not found:
        click.echo("No private vendors (`vendor private acme` marks one).")
    else:
        click.echo("\n".join(found))
