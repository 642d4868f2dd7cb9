"""`package-broker keys ...`: check and rotate the key that seals upstream credentials, webhook secrets and
users' TOTP secrets.

The work is crypto/rotation.py's; this is the command line around it: the server's database through the
broker, or (`--from FILE`, `--sql`) an export of the Worker's D1 rows made with wrangler.
"""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any, TextIO

import click

from .common import cli_actor, fail, now, print_json, render_sql, run, worker_key

if TYPE_CHECKING:
    from ....broker import Broker
    from ....crypto.rotation import KeyReport, Keys, SealedValue

EXPORT = (
    'npx wrangler d1 execute package-broker-db --remote --json --command "SELECT id, credentials, webhook_secret '
    'FROM sources; SELECT name, totp_secret, totp_pending FROM users" > sources.json'
)


@click.group()
def keys() -> None:
    """Check and rotate ENCRYPTION_KEY (with ENCRYPTION_KEY_PREVIOUS)."""


def _env_keys() -> Keys:
    """ENCRYPTION_KEY and ENCRYPTION_KEY_PREVIOUS from the environment, for the Worker's exported rows."""
    from ....config import decode_encryption_key
    from ....crypto.rotation import Keys
    from ....errors import ConfigError

    current = worker_key()
    previous = os.environ.get("ENCRYPTION_KEY_PREVIOUS", "").strip()
    try:
        return Keys(current, decode_encryption_key(previous, "ENCRYPTION_KEY_PREVIOUS") if previous else None)
    except ConfigError as exc:
        fail(f"{exc.variable}: {exc.problem}", 2)


def _broker_keys(broker: Broker) -> Keys:
    from ....crypto.rotation import Keys

    return Keys(broker.settings.key_bytes(), broker.settings.previous_key_bytes())


def _exported(file: TextIO) -> list[SealedValue]:
    """The sealed values in `wrangler d1 execute --json` output: a list of results, each with `results` rows
    of sources (`id`, ...) or users (`name`, ...); a bare list of rows, or one result object, is read too."""
    from ....crypto.rotation import table_of, values_of

    name = getattr(file, "name", "the file")
    try:
        data: Any = json.load(file)
    except ValueError as exc:
        fail(f"{name} is not JSON ({exc}); make it with: {EXPORT}")
    results = data if isinstance(data, list) else [data]
    rows: list[Any] = []
    for result in results:
        if isinstance(result, dict) and "results" in result:
            if result.get("success") is False:
                fail(f"{name} records a failed query: {result.get('error') or result}")
            rows.extend(result["results"] or [])
        else:
            rows.append(result)
    if not all(isinstance(row, dict) and table_of(row) is not None for row in rows):
        fail(
            f"{name} does not hold rows of sources (id, credentials, webhook_secret) and users (name, totp_secret, "
            f"totp_pending); make it with: {EXPORT}"
        )
    return values_of(rows)


def _problems(report: KeyReport) -> list[str]:
    lines = [f"  {u.label} {u.column}: {u.reason}" for u in report.unreadable]
    if report.changed:
        lines.append(
            f"  changed while rotating, run again: {', '.join(sorted(set(report.changed)))}",
        )
    return lines


def _count(number: int, thing: str = "sealed value") -> str:
    return f"{number} {thing}{'' if number == 1 else 's'}"


def _names(report: KeyReport) -> tuple[str, str]:
    previous = f"ENCRYPTION_KEY_PREVIOUS ({report.previous_key})" if report.previous_key else "ENCRYPTION_KEY_PREVIOUS"
    return f"ENCRYPTION_KEY ({report.key})", previous


@keys.command("check")
@click.option(
    "--from",
    "export",
    type=click.File("r"),
    help="Read the Worker's rows from this file (the JSON of `wrangler d1 execute --json`) instead of the database.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def check_command(export: TextIO | None, as_json: bool) -> None:
    """How many sealed values open with ENCRYPTION_KEY, with ENCRYPTION_KEY_PREVIOUS, and with neither (and how
    many TOTP secrets are still in clear).

    Exits 1 when a value opens with neither key (those are named by source or user).
    """
    import asyncio

    from ....crypto.rotation import check, sealed_values

    if export is not None:
        from ..cipher import CryptographyCipher

        report = asyncio.run(check(CryptographyCipher(), _env_keys(), _exported(export)))
    else:

        async def work(broker: Broker) -> KeyReport:
            from ..cipher import CryptographyCipher

            values = await sealed_values(broker.ports.db)
            return await check(broker.ports.cipher or CryptographyCipher(), _broker_keys(broker), values)

        report = run(work)
    if as_json:
        print_json(report.to_json())
    else:
        current, previous = _names(report)
        click.echo(f"under {current}: {report.current}")
        click.echo(f"under {previous}: {report.previous}")
        if report.clear:
            click.echo(f"in clear (TOTP secrets from before they were sealed): {report.clear}")
        click.echo(f"cannot be decrypted: {len(report.unreadable)}")
        for line in _problems(report):
            click.echo(line)
        if report.complete:
            click.echo("Every sealed value opens with ENCRYPTION_KEY alone.")
        elif not report.unreadable:
            click.echo("Run `package-broker keys rotate` to re-encrypt (or seal) the rest under ENCRYPTION_KEY.")
    if report.unreadable:
        raise SystemExit(1)


@keys.command("rotate")
@click.option("--sql", "as_sql", is_flag=True, help="For the Worker: print UPDATE statements for D1 (needs --from).")
@click.option(
    "--from",
    "export",
    type=click.File("r"),
    help="With --sql: the Worker's rows, the JSON of `wrangler d1 execute --json` (see README).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def rotate_command(as_sql: bool, export: TextIO | None, as_json: bool) -> None:
    """Re-encrypt every stored credential, webhook secret and TOTP secret from ENCRYPTION_KEY_PREVIOUS to
    ENCRYPTION_KEY, and seal TOTP secrets stored in clear before they were sealed.

    Safe while the broker serves (each value is replaced only if nobody changed it meanwhile) and
    resumable (values already under ENCRYPTION_KEY are skipped). A value that opens with neither key is
    named by source or user, left as it is, and makes the command exit 1.
    """
    if as_sql or export is not None:
        if not (as_sql and export is not None):
            raise click.UsageError("--sql and --from go together: --sql --from sources.json")
        if as_json:
            raise click.UsageError("--sql prints SQL; leave out --json")
        _rotate_sql(export)
        return

    async def work(broker: Broker) -> KeyReport:
        from ....crypto.rotation import rotate, sealed_values
        from ..cipher import CryptographyCipher

        cipher, chosen = broker.ports.cipher or CryptographyCipher(), _broker_keys(broker)
        values = await sealed_values(broker.ports.db)
        if as_json or not sys.stderr.isatty() or not values:
            return await rotate(broker.ports.db, cipher, chosen, values, clock=broker.clock)
        with click.progressbar(length=len(values), label="Re-encrypting", file=sys.stderr) as bar:
            return await rotate(broker.ports.db, cipher, chosen, values, progress=bar.update, clock=broker.clock)

    report = run(work)
    if as_json:
        print_json(report.to_json())
    else:
        current, _ = _names(report)
        summary = f"Re-encrypted {_count(report.rotated)} under {current}; {report.current} already under it"
        if report.unreadable:
            summary += f"; {len(report.unreadable)} cannot be decrypted (left as they are)"
        click.echo(summary + ".")
        for line in _problems(report):
            click.echo(line)
        if report.complete:
            click.echo("Every sealed value opens with ENCRYPTION_KEY alone: ENCRYPTION_KEY_PREVIOUS can be removed.")
    if not report.complete:
        raise SystemExit(1)


def _rotate_sql(export: TextIO) -> None:
    import asyncio

    from ....crypto.rotation import audit_entry, rotation_statements
    from ..cipher import CryptographyCipher

    statements, report = asyncio.run(rotation_statements(CryptographyCipher(), _env_keys(), _exported(export)))
    for statement in statements:
        click.echo(render_sql(*statement))
    if statements:  # recorded like a rotation on the server (the entry says what was asked, not what applied)
        click.echo(render_sql(*audit_entry(report, now(), cli_actor())))
    current, _ = _names(report)
    click.echo(
        f"{_count(len(statements), 'UPDATE statement')} re-encrypting under {current}; {report.current} already "
        "under it. Apply them with: npx wrangler d1 execute package-broker-db --remote --file <this output>",
        err=True,
    )
    if report.unreadable:
        click.echo(f"{_count(len(report.unreadable))} cannot be decrypted; no statement changes them:", err=True)
        for line in _problems(report):
            click.echo(line, err=True)
        raise SystemExit(1)
