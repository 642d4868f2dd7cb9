"""`package-broker advisory ...`: security advisories for private packages, which `composer audit` (and
Composer >= 2.9's blocking of insecure versions) reads through the broker. Mirrored packages get their
upstream's advisories by themselves."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from .common import fail, iso, print_json, run, when

if TYPE_CHECKING:
    from ....advisories.store import Advisory
    from ....broker import Broker


@click.group()
def advisory() -> None:
    """Security advisories for private packages (composer audit)."""


def _json(found: Advisory) -> dict[str, Any]:
    return {
        "id": found.advisory_id,
        "package": found.package,
        "origin": found.origin,
        "created_at": iso(found.created_at),
        **found.data,
    }


@advisory.command("add")
@click.argument("package")
@click.option("--affected", required=True, help="The affected versions as a Composer constraint, e.g. '>=1.0,<1.2.3'.")
@click.option("--title", required=True, help="What is wrong, in one line.")
@click.option("--cve", help="The CVE id, if there is one.")
@click.option("--link", help="Where the details are.")
@click.option("--severity", type=click.Choice(["low", "medium", "high", "critical"]), help="How bad it is.")
@click.option("--json", "as_json", is_flag=True, help="Print the advisory as JSON.")
def advisory_add(
    package: str, affected: str, title: str, cve: str | None, link: str | None, severity: str | None, as_json: bool
) -> None:
    """Record an advisory for a private package; `composer audit` reports installed versions it affects."""
    from ....advisories.record import InvalidAdvisory, operator_advisory

    try:
        name, data = operator_advisory(package, affected, title, cve=cve, link=link, severity=severity)
    except InvalidAdvisory as exc:
        if exc.field == "affected":
            fail(f"--affected {affected!r} is not a Composer constraint: {exc.problem}")
        fail(f"{package}: {exc.problem}")

    async def work(broker: Broker) -> Advisory:
        from ....advisories.store import AdvisoryStore

        return await AdvisoryStore(broker.ports.db, broker.clock).add(name, data)

    added = run(work)
    if as_json:
        print_json(_json(added))
    else:
        click.echo(f"Added {added.advisory_id} for {name} {affected}: {title}")


@advisory.command("list")
@click.argument("package", required=False)
@click.option("--all", "everything", is_flag=True, help="Also the advisories copied from a mirror's upstream.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def advisory_list(package: str | None, everything: bool, as_json: bool) -> None:
    """The advisories recorded (for one package, or all)."""

    async def work(broker: Broker) -> list[Advisory]:
        from ....advisories.store import AdvisoryStore

        return await AdvisoryStore(broker.ports.db, broker.clock).list(
            package.lower() if package else None, operator_only=not everything
        )

    found = run(work)
    if as_json:
        print_json([_json(a) for a in found])
        return
    if not found:
        click.echo("No advisories recorded (`advisory add PACKAGE --affected ... --title ...`).")
        return
    for a in found:
        click.echo(
            f"{a.advisory_id:<22} {a.package:<36} {a.data.get('affectedVersions', ''):<20} "
            f"{when(a.created_at)}  {a.data.get('title', '')}" + ("" if a.origin == "operator" else f"  [{a.origin}]")
        )


@advisory.command("remove")
@click.argument("advisory_id")
def advisory_remove(advisory_id: str) -> None:
    """Remove an advisory recorded with `advisory add`."""

    async def work(broker: Broker) -> bool:
        from ....advisories.store import AdvisoryStore

        return await AdvisoryStore(broker.ports.db, broker.clock).remove(advisory_id)

    if not run(work):
        fail(f"no advisory {advisory_id} was recorded with `advisory add`; see `package-broker advisory list`")
    click.echo(f"Removed {advisory_id}.")
