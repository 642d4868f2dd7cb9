"""`package-broker package ...`: what is served, where each version comes from, and taking versions away."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import click

from .common import iso, print_json, run, when

if TYPE_CHECKING:
    from ....catalog.admin import PackageDetail


@click.group()
def package() -> None:
    """List, inspect and delete served packages."""


@package.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (times in ISO 8601).")
def package_list(as_json: bool) -> None:
    """Every served package: its source, how many versions, downloads."""
    from ....catalog.admin import list_packages

    found = run(list_packages)
    if as_json:
        print_json([{**asdict(p), "modified_at": iso(p.modified_at)} for p in found])
        return
    if not found:
        click.echo("Nothing is served yet: add a source (`source add`) or publish a zip (`publish`).")
        return
    click.echo(f"{'PACKAGE':<40} {'SOURCE':<16} {'KIND':<9} {'TAGS':>5} {'DEV':>4} {'DOWNLOADS':>9}  CHANGED")
    for p in found:
        click.echo(
            f"{p.name:<40} {p.source_id:<16} {p.source_kind:<9} {p.versions:>5} {p.dev_versions:>4} "
            f"{p.downloads:>9}  {when(p.modified_at)}"
        )


def detail_json(detail: PackageDetail) -> dict[str, Any]:
    return {
        **asdict(detail),
        "versions": [{**asdict(v), "released_at": iso(v.released_at)} for v in detail.versions],
    }


@package.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (times in ISO 8601).")
def package_show(name: str, as_json: bool) -> None:
    """One package: its source and each version's reference, archive size and downloads, and whether a
    lazy mirror may serve it (private sources and vendors always win)."""
    from .mirror import print_status, shown_package

    detail, status = run(lambda broker: shown_package(broker, name.lower()))
    if as_json:
        print_json({**(detail_json(detail) if detail else {"name": status.name}), "mirror": print_status(status, True)})
        return
    if detail is None:
        click.echo(f"{status.name}: not served by a private source")
        print_status(status, False)
        return
    print_status(status, False)
    click.echo(f"{detail.name}: {detail.description or '(no description)'}")
    click.echo(f"from {detail.source_id} ({detail.source_kind} {detail.source_url})")
    click.echo(f"\n{'VERSION':<28} {'REFERENCE':<12} {'ARCHIVE':>10} {'DOWNLOADS':>9}  RELEASED")
    for v in detail.versions:
        size = f"{v.dist_size:,}" if v.dist_size is not None else "-"
        flag = "  (hidden)" if v.hidden else ""
        click.echo(f"{v.version:<28} {v.reference[:12]:<12} {size:>10} {v.downloads:>9}  {when(v.released_at)}{flag}")


@package.command("delete")
@click.argument("name")
@click.argument("version", required=False)
@click.option(
    "--purge",
    is_flag=True,
    help="Delete the archive too: a composer.lock that names it can no longer install (e.g. a leaked secret).",
)
def package_delete(name: str, version: str | None, purge: bool) -> None:
    """Stop serving an uploaded package or version, or hide a version a source serves.

    The archive stays downloadable unless --purge, so existing composer.lock files keep installing;
    `composer update` no longer offers the version.
    """
    from ....catalog.admin import delete

    click.echo(run(lambda broker: delete(broker, name.lower(), version, purge=purge)) + ".")


@package.command("restore")
@click.argument("name")
@click.argument("version")
def package_restore(name: str, version: str) -> None:
    """Serve a hidden version again."""
    from ....catalog.admin import restore

    click.echo(run(lambda broker: restore(broker, name.lower(), version)) + ".")
