"""`package-broker audit`: who did what administrative thing, when, from where (newest first)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from .common import iso, now, print_json, run

if TYPE_CHECKING:
    from ....audit import Entry


def parse_since(value: str | None) -> int | None:
    """`--since`: a duration back from now (30m, 12h, 7d, 4w) or a date / date and time (UTC unless given)."""
    if not value:
        return None
    if match := re.fullmatch(r"(\d+)([mhdw])", value.strip()):
        return now() - int(match[1]) * {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}[match[2]]
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise click.BadParameter(
            "use a duration (30m, 12h, 7d, 4w), a date (2027-01-31) or a date and time", param_hint="--since"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def entry_json(e: Entry) -> dict[str, Any]:
    return {
        "id": e.id,
        "at": iso(e.at),
        "actor": e.actor,
        "action": e.action,
        "target": e.target,
        "address": e.address,
        "details": e.details,
    }


@click.command("audit")
@click.option("--since", help="Only entries since: a duration (30m, 12h, 7d, 4w) or a date / ISO date and time.")
@click.option("--action", help="Only this action (token.created), or a family with a trailing dot (token.).")
@click.option("--actor", help="Only this actor: a token id (tok_...), cli:<login>, webhook:<provider>.")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True, help="At most this many.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (times in ISO 8601).")
def audit(since: str | None, action: str | None, actor: str | None, limit: int, as_json: bool) -> None:
    """The audit log, newest first: tokens created and revoked, sources added, edited, removed and synced by
    hand, packages published, deleted and restored, keys rotated. Kept AUDIT_RETENTION_DAYS (default 365)."""
    start = parse_since(since)
    found = run(lambda broker: broker.audit.entries(since=start, action=action, actor=actor, limit=limit))
    if as_json:
        print_json([entry_json(e) for e in found])
        return
    if not found:
        click.echo("No audit entries" + (" match" if since or action or actor else " yet") + ".")
        return
    click.echo(f"{'TIME':<23} {'ACTOR':<22} {'ACTION':<22} {'TARGET':<32} ADDRESS")
    for e in found:
        at = datetime.fromtimestamp(e.at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        click.echo(f"{at:<23} {e.actor:<22} {e.action:<22} {e.target or '-':<32} {e.address or '-'}")
