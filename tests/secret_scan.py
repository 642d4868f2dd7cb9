"""The suite-wide secret scan (issue 10): every secret the tests create or hand to the broker is collected,
and at the end of the session no log line and no audit entry may contain one.

Collected secrets:
* Composer tokens: every one generated in-process (`access.tokens.generate`), and every well-formed token
  printed by a CLI process run through `tests.helpers.run_cli` or `BrokerServer.cli`/`token`;
* upstream credentials: every value sealed in-process (`Broker.seal_credentials`), and the value of every
  variable a CLI run names with `--password-env`/`--token-env` (and of any *PASSWORD*/*TOKEN*/*SECRET*
  variable the test passed to run_cli);
* webhook secrets: every one generated in-process (`new_webhook_secret`) and every one a CLI run printed.

Scanned: the log lines (JSON lines and `error:` lines on stderr) of every CLI process run through those
helpers, every `stdout.log`/`stderr.log` of a real server under the session's base temp directory, and the
`audit_log` table of every SQLite database under it (in-process brokers, CLI brokers and servers alike).
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

#: Secrets seen this session (values shorter than MIN_LENGTH are ignored: they would match by chance).
SECRETS: set[str] = set()
#: (where, line) of every log line of the CLI processes observed.
LOG_LINES: list[tuple[str, str]] = []
MIN_LENGTH = 8

_TOKEN = re.compile(r"pkb_[0-9A-Za-z]{42}")
_WEBHOOK_SECRET = re.compile(r"Secret:\s+(\S+)")
_SECRET_NAME = re.compile(r"PASSWORD|TOKEN|SECRET", re.I)


def remember(value: str | None) -> None:
    if value and len(value) >= MIN_LENGTH:
        SECRETS.add(value)


def observe_cli(
    args: Sequence[str], env: Mapping[str, str], result: subprocess.CompletedProcess[str], extra: Mapping[str, str]
) -> None:
    """Collect what a CLI run handled (secrets it was given or printed) and its log lines."""
    for i, arg in enumerate(args):
        if arg in ("--password-env", "--token-env") and i + 1 < len(args):
            remember(env.get(args[i + 1]))
        elif arg.startswith(("--password-env=", "--token-env=")):
            remember(env.get(arg.split("=", 1)[1]))
    for name, value in extra.items():
        if _SECRET_NAME.search(name):
            remember(value)
    output = (result.stdout or "") + "\n" + (result.stderr or "")
    for token in _TOKEN.findall(output):
        remember(token)
    for secret in _WEBHOOK_SECRET.findall(output):
        remember(secret)
    for line in (result.stdout or "").splitlines():
        if line.lstrip().startswith("{") or '"webhook_secret"' in line:
            _json_secrets(line)
    try:
        for item in _walk(json.loads(result.stdout or "null")):
            remember(item)
    except ValueError:
        pass
    for line in (result.stderr or "").splitlines():
        if line.startswith(("{", "error:")):
            LOG_LINES.append((f"package-broker {' '.join(args[:3])}", line))


def _json_secrets(line: str) -> None:
    if match := re.search(r'"webhook_secret":\s*"([^"]+)"', line):
        remember(match[1])


def _walk(data: Any) -> Iterator[str]:
    """Values under keys that hold a secret in the CLI's --json output ("token", "webhook_secret")."""
    if isinstance(data, dict):
        for key, value in data.items():
            if key in ("token", "webhook_secret", "secret") and isinstance(value, str):
                yield value
            else:
                yield from _walk(value)
    elif isinstance(data, list):
        for item in data:
            yield from _walk(item)


def install_in_process_hooks() -> None:
    """Wrap the in-process places where secrets are made or sealed, to collect them."""
    from package_broker.access import tokens
    from package_broker.broker import Broker
    from package_broker.sources.providers import register

    generate = tokens.generate

    def generating() -> str:
        secret = generate()
        remember(secret)
        return secret

    tokens.generate = generating  # type: ignore[assignment]

    seal = Broker.seal_credentials

    async def sealing(self: Broker, values: dict[str, str]) -> str:
        for value in values.values():
            remember(value)
        return await seal(self, values)

    Broker.seal_credentials = sealing  # type: ignore[method-assign]

    renew = register.new_webhook_secret

    async def renewing(broker: Broker, source_id: str, **options: Any) -> str:
        secret = await renew(broker, source_id, **options)
        remember(secret)
        return secret

    register.new_webhook_secret = renewing  # type: ignore[assignment]


def _files(root: Path) -> Iterator[Path]:
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in (".git", "objects", "node_modules", "mirrors")]
        for name in files:
            if name.endswith((".sqlite", ".log")):
                yield Path(folder) / name


def scan(root: Path) -> list[str]:
    """Every place under `root` (and every observed CLI log line) where a collected secret appears."""
    secrets = sorted(SECRETS)
    if not secrets:
        return []
    found: list[str] = []

    def check(where: str, text: str) -> None:
        for secret in secrets:
            if secret in text:
                found.append(f"{where}: {secret[:6]}... in {text[:200]!r}")

    for where, line in LOG_LINES:
        check(where, line)
    for path in _files(root):
        if path.suffix == ".log":
            with open(path, encoding="utf-8", errors="replace") as lines:
                for line in lines:
                    check(str(path), line)
            continue
        try:
            with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
                rows = db.execute("SELECT actor, action, target, address, details FROM audit_log").fetchall()
        except sqlite3.Error:
            continue  # not a broker database, or one made before the audit log
        for row in rows:
            check(f"{path} audit_log", json.dumps(row))
    return found
