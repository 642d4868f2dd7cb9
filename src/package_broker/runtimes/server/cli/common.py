"""What every command shares: opening the broker, failing with one line, printing data and times.

Heavy modules (the broker, its drivers, asyncio) are imported inside the functions that need them, so
`package-broker --help` and `--version` start in a few dozen milliseconds.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar
from urllib.parse import urlsplit

import click

if TYPE_CHECKING:
    from ....broker import Broker

T = TypeVar("T")


def fail(message: str, code: int = 1) -> NoReturn:
    """End the command with one line on stderr and a non-zero exit code."""
    click.echo(f"error: {message}", err=True)
    raise SystemExit(code)


def existing_broker(env: Mapping[str, str]) -> None:
    """Fail unless the environment names a broker that exists: run from the wrong directory, a command
    would otherwise create a second, empty broker there (whose tokens the running server rejects).

    Settings are checked first (one line naming a bad variable); nothing is created here.
    """
    from ....config import Settings
    from ....errors import ConfigError
    from ..settings import ServerSettings

    try:
        server = ServerSettings.from_mapping(env)
        Settings.from_mapping(env)
    except ConfigError as exc:
        fail(f"{exc.variable}: {exc.problem}", 2)
    if server.db_driver == "sqlite" and not Path(server.db_url).exists():
        where = "DB_URL" if env.get("DB_URL") else "DATA_DIR"
        fail(
            f"no broker at {Path(server.db_url).resolve().parent}: run this where `package-broker serve` runs, "
            f"set {where} to its data, or create a new broker there with `package-broker init`"
        )


def run(work: Callable[[Broker], Awaitable[T]], *, migrate_first: bool = True, create: bool = False) -> T:
    """Open the broker from the environment, bring the schema up to date, run `work`, close.

    Only `create` (serve, migrate, init) may start a new broker where there is none.
    """
    import asyncio

    from ....audit import acting_as
    from ....errors import BrokerError, ConfigError
    from ..bootstrap import build_broker, migrate

    if not create:
        existing_broker(os.environ)

    async def main() -> T:
        broker = await build_broker(os.environ)
        try:
            if migrate_first:
                await migrate(broker)
            # What a command changes is recorded in the audit log as done by whoever runs it.
            with acting_as(cli_actor()):
                return await work(broker)
        finally:
            await broker.close()

    try:
        return asyncio.run(main())
    except ConfigError as exc:
        fail(f"{exc.variable}: {exc.problem}", 2)
    except BrokerError as exc:
        fail(str(exc))


def cli_actor() -> str:
    """The audit log's actor for a command: `cli:` and the login name of the user running it."""
    import getpass

    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no USER/LOGNAME and no passwd entry (some containers)
        name = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return f"cli:{name}"


def now() -> int:
    return int(datetime.now(UTC).timestamp())


def when(timestamp: int | None) -> str:
    """A time for people: date, minutes and the time zone (UTC), or "-"."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC") if timestamp else "-"


def iso(timestamp: int | None) -> str | None:
    """A time for programs (--json): ISO 8601 with its offset, or None."""
    return datetime.fromtimestamp(timestamp, UTC).isoformat() if timestamp is not None else None


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def parse_expiry(value: str | None) -> int | None:
    if not value:
        return None
    if match := re.fullmatch(r"(\d+)([hdw])", value.strip()):
        return now() + int(match[1]) * {"h": 3600, "d": 86400, "w": 7 * 86400}[match[2]]
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


def worker_key() -> bytes:
    """The Worker's ENCRYPTION_KEY, which --sql output must be sealed with: never a locally generated one."""
    from ....config import decode_encryption_key
    from ....errors import ConfigError

    value = os.environ.get("ENCRYPTION_KEY", "").strip()
    if not value:
        fail("ENCRYPTION_KEY: set it to the Worker's secret (the value given to `wrangler secret put`)", 2)
    try:
        return decode_encryption_key(value)
    except ConfigError as exc:
        fail(f"{exc.variable}: {exc.problem}", 2)


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
