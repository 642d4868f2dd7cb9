"""Rotating ENCRYPTION_KEY: `package-broker keys check|rotate` on a real SQLite broker, as real processes,
and the Worker's path (`keys rotate --sql --from` an export, applied with sqlite3)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from package_broker.accounts import totp
from package_broker.accounts.login import login
from package_broker.accounts.web import SessionRefused
from package_broker.broker import Broker
from package_broker.crypto.credentials import key_id, seal, seal_json, unseal_json
from package_broker.crypto.rotation import SOURCES, USERS, Keys, SealedTable, rotate, sealed_values
from package_broker.runtimes.server.bootstrap import build_broker, migrate
from package_broker.runtimes.server.cipher import CryptographyCipher
from tests.conftest import require_tool
from tests.helpers import Repo, php_package, run_cli
from tests.secret_scan import remember

OLD, NEW, OTHER = (base64.b64encode(bytes([n]) * 32).decode() for n in (1, 2, 3))
OLD_ID, NEW_ID, OTHER_ID = (key_id(base64.b64decode(k)) for k in (OLD, NEW, OTHER))
#: The environment of a rotation (Any: run_cli takes **env beside its typed keywords).
ROTATING: dict[str, Any] = {"ENCRYPTION_KEY": NEW, "ENCRYPTION_KEY_PREVIOUS": OLD}
CIPHER = CryptographyCipher()


def cli(data: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment: dict[str, Any] = {"MEMO_SECONDS": "0", **env}
    return run_cli(data, *args, **environment)


async def open_broker(data: Path, key: str, **env: str) -> Broker:
    umask = os.umask(0o077)
    try:
        broker = await build_broker({"DATA_DIR": str(data), "ENCRYPTION_KEY": key, "MEMO_SECONDS": "0", **env})
    finally:
        os.umask(umask)
    await migrate(broker)
    return broker


@contextlib.contextmanager
def database(data: Path) -> Iterator[sqlite3.Connection]:
    """The broker's SQLite file, committed and closed on the way out."""
    db = sqlite3.connect(data / "package-broker.sqlite")
    try:
        with db:
            yield db
    finally:
        db.close()


def stored(data: Path, table: SealedTable = SOURCES) -> dict[tuple[str, str], str]:
    """Every sealed value of `table` (sources, or USERS: their TOTP secrets) in the broker's database, read
    with sqlite3, by (row key, column)."""
    with database(data) as db:
        rows = db.execute(table.select).fetchall()
    return {
        (row[0], column): value for row in rows for column, value in zip(table.columns, row[1:], strict=True) if value
    }


async def opens_with(key: str, sealed: str) -> dict[str, str]:
    """The value opened with `key` alone (no previous key)."""
    return await unseal_json(CIPHER, base64.b64decode(key), sealed)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A broker whose values are sealed with OLD: a git source added through the CLI with a password (and
    synced), a webhook secret on it, and a composer source with a token (never synced). Made once; each
    test gets a copy."""
    require_tool("git")
    root = tmp_path_factory.mktemp("rotation")
    repo = Repo(root / "lib")
    repo.commit({"composer.json": php_package("acme/lib", "Acme\\Lib")})
    repo.tag("v1.0.0")
    data = root / "data"
    added = cli(
        data, "source", "add", "git", str(repo.path), "--username", "u", "--password-env", "PW", "--json",
        ENCRYPTION_KEY=OLD, PW="s3cr3t",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    source = json.loads(added.stdout)
    assert source["sync"]["status"] == "ok", source

    async def seal_more() -> str:
        broker = await open_broker(data, OLD)
        try:
            await broker.sources.set_webhook_secret(source["id"], await broker.seal_credentials({"secret": "hook"}))
            sealed = await broker.seal_credentials({"token": "t0k"})
            return (await broker.sources.add("composer", "https://repo.example.com", sealed)).id
        finally:
            await broker.close()

    mirror = asyncio.run(seal_more())
    assert len(stored(data)) == 3 and all(f".{OLD_ID}." in v for v in stored(data).values())
    (data / "ids.json").write_text(json.dumps({"git": source["id"], "mirror": mirror}))
    return data


@pytest.fixture
def data(template: Path, tmp_path: Path) -> Path:
    """A copy of the template broker, this test's own."""
    return Path(shutil.copytree(template, tmp_path / "data"))


def rotations(data: Path) -> list[tuple[str, dict[str, object]]]:
    """The audit log's `keys.rotated` entries: (target, details)."""
    with database(data) as db:
        rows = db.execute("SELECT target, details FROM audit_log WHERE action = 'keys.rotated' ORDER BY at").fetchall()
    return [(target, json.loads(details)) for target, details in rows]


def ids(data: Path) -> dict[str, str]:
    return dict(json.loads((data / "ids.json").read_text()))


PLAIN = {"credentials": None, "webhook_secret": {"secret": "hook"}}


async def plaintexts(data: Path, key: str) -> dict[tuple[str, str], dict[str, str]]:
    return {where: await opens_with(key, sealed) for where, sealed in stored(data).items()}


async def test_rotate_moves_every_value_to_the_new_key_and_a_second_run_changes_nothing(data: Path) -> None:
    before = await plaintexts(data, OLD)
    checked = cli(data, "keys", "check", "--json", **ROTATING)
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout) | {"unreadable": []} == {
        "key": NEW_ID, "previous_key": OLD_ID, "current": 0, "previous": 3, "rotated": 0, "clear": 0, "changed": [],
        "unreadable": [], "complete": False,
    }  # fmt: skip

    rotated = cli(data, "keys", "rotate", **ROTATING)
    assert rotated.returncode == 0, rotated.stderr
    assert f"Re-encrypted 3 sealed values under ENCRYPTION_KEY ({NEW_ID}); 0 already under it." in rotated.stdout
    assert "ENCRYPTION_KEY_PREVIOUS can be removed" in rotated.stdout
    # Every value opens with the new key alone, and holds what it held.
    assert await plaintexts(data, NEW) == before

    again = cli(data, "keys", "rotate", "--json", **ROTATING)
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert (report["rotated"], report["current"], report["complete"]) == (0, 3, True)
    assert await plaintexts(data, NEW) == before
    # One audit entry, for the run that changed something.
    assert rotations(data) == [(NEW_ID, {"resealed": 3, "previous_key": OLD_ID})]

    # Without the previous key: the check is clean and a sync still opens the credentials.
    alone = cli(data, "keys", "check", ENCRYPTION_KEY=NEW)
    assert alone.returncode == 0 and f"under ENCRYPTION_KEY ({NEW_ID}): 3" in alone.stdout, alone.stdout
    synced = cli(data, "sync", ids(data)["git"], ENCRYPTION_KEY=NEW)
    assert synced.returncode == 0, synced.stdout + synced.stderr


async def test_an_interrupted_rotation_resumes_where_it_stopped(data: Path) -> None:
    broker = await open_broker(data, NEW)
    try:
        keys = Keys(base64.b64decode(NEW), base64.b64decode(OLD))
        first = await rotate(broker.ports.db, CIPHER, keys, limit=1)
    finally:
        await broker.close()
    assert (first.rotated, first.previous, first.complete) == (1, 2, False)
    assert sorted(f".{NEW_ID}." in v for v in stored(data).values()) == [False, False, True]

    # A server running with both keys meanwhile reads both kinds of value.
    both = cli(data, "sync", ids(data)["git"], **ROTATING)
    assert both.returncode == 0, both.stdout + both.stderr

    rest = cli(data, "keys", "rotate", "--json", **ROTATING)
    assert rest.returncode == 0, rest.stderr
    assert (json.loads(rest.stdout)["rotated"], json.loads(rest.stdout)["current"]) == (2, 1)
    assert all(f".{NEW_ID}." in v for v in stored(data).values())


async def test_a_value_changed_meanwhile_is_never_overwritten(data: Path) -> None:
    git_id, mirror_id = ids(data)["git"], ids(data)["mirror"]
    new, old = base64.b64decode(NEW), base64.b64decode(OLD)
    broker = await open_broker(data, NEW)
    try:
        listing = await sealed_values(broker.ports.db)  # read before the edits below: stale on purpose
        # `source edit` on a server already given the new key, and one still sealing with the old key.
        edited_new = await seal_json(CIPHER, new, {"username": "u", "password": "changed"})
        await broker.sources.update(git_id, credentials=edited_new)
        edited_old = await seal_json(CIPHER, old, {"token": "changed-too"})
        await broker.sources.update(mirror_id, credentials=edited_old)
        report = await rotate(broker.ports.db, CIPHER, Keys(new, old), listing)
    finally:
        await broker.close()
    assert (report.rotated, report.current, report.complete) == (2, 1, True)
    values = stored(data)
    assert values[(git_id, "credentials")] == edited_new  # left exactly as the edit wrote it
    assert await opens_with(NEW, values[(mirror_id, "credentials")]) == {"token": "changed-too"}  # not the old
    assert await opens_with(NEW, values[(git_id, "webhook_secret")]) == {"secret": "hook"}


async def test_a_value_no_key_opens_is_named_and_left_as_it_is(data: Path) -> None:
    git_id, mirror_id = ids(data)["git"], ids(data)["mirror"]
    foreign = await seal_json(CIPHER, base64.b64decode(OTHER), {"username": "u", "password": "s3cr3t"})
    with database(data) as db:
        db.execute("UPDATE sources SET credentials = ? WHERE id = ?", (foreign, git_id))

    rotated = cli(data, "keys", "rotate", **ROTATING)
    assert rotated.returncode == 1
    assert "1 cannot be decrypted (left as they are)" in rotated.stdout, rotated.stdout
    assert f"{git_id} credentials: stored credentials were encrypted with key {OTHER_ID}" in rotated.stdout
    values = stored(data)
    assert values[(git_id, "credentials")] == foreign
    assert await opens_with(NEW, values[(mirror_id, "credentials")]) == {"token": "t0k"}  # the rest moved on
    assert await opens_with(NEW, values[(git_id, "webhook_secret")]) == {"secret": "hook"}

    checked = cli(data, "keys", "check", "--json", **ROTATING)
    assert checked.returncode == 1
    assert json.loads(checked.stdout)["unreadable"] == [
        {
            "source": git_id,
            "table": "sources",
            "row": git_id,
            "column": "credentials",
            "key": OTHER_ID,
            "reason": f"stored credentials were encrypted with key {OTHER_ID}; they cannot be decrypted with "
            f"ENCRYPTION_KEY ({NEW_ID}) or ENCRYPTION_KEY_PREVIOUS ({OLD_ID}) and are kept as they are: set "
            "ENCRYPTION_KEY (or, while rotating, ENCRYPTION_KEY_PREVIOUS) to the key that was used when the "
            "source was added",
        }
    ]

    # The source's sync says so, and loses nothing.
    synced = cli(data, "sync", git_id, "--json", ENCRYPTION_KEY=NEW)
    assert synced.returncode == 1
    assert f"cannot be decrypted with ENCRYPTION_KEY ({NEW_ID})" in synced.stdout + synced.stderr
    assert stored(data)[(git_id, "credentials")] == foreign


def wrangler_export(data: Path, *queries: str) -> str:
    """What `wrangler d1 execute ... --json --command "QUERY; ..."` prints for this database (by default the
    sources' sealed values alone, as exports made before users had sealed values)."""
    with database(data) as db:
        db.row_factory = sqlite3.Row
        results = [
            {"results": [dict(r) for r in db.execute(query)], "success": True, "meta": {"duration": 1}}
            for query in queries or ("SELECT id, credentials, webhook_secret FROM sources",)
        ]
    return json.dumps(results, indent=2)


async def test_the_worker_rotates_through_sql_applied_to_its_database(data: Path, tmp_path: Path) -> None:
    export = tmp_path / "sources.json"
    export.write_text(wrangler_export(data))
    before = await plaintexts(data, OLD)
    elsewhere = tmp_path / "unused"  # --sql and --from never touch a local broker

    checked = run_cli(elsewhere, "keys", "check", "--from", str(export), "--json", init=False, **ROTATING)
    assert checked.returncode == 0 and json.loads(checked.stdout)["previous"] == 3, checked.stderr

    sql = run_cli(elsewhere, "keys", "rotate", "--sql", "--from", str(export), init=False, **ROTATING)
    assert sql.returncode == 0, sql.stderr
    assert sql.stdout.count("UPDATE sources SET") == 3 and "3 UPDATE statements" in sql.stderr
    assert not elsewhere.exists()

    # A value changed between the export and the UPDATE is left alone (the compare-and-set).
    git_id = ids(data)["git"]
    edited = await seal_json(CIPHER, base64.b64decode(NEW), {"username": "u", "password": "edited"})
    with database(data) as db:
        db.execute("UPDATE sources SET credentials = ? WHERE id = ?", (edited, git_id))
        db.executescript(sql.stdout)
    after = await plaintexts(data, NEW)
    assert after == {**before, (git_id, "credentials"): {"username": "u", "password": "edited"}}
    assert rotations(data) == [(NEW_ID, {"resealed": 3, "previous_key": OLD_ID})]

    # Exported again, everything is under the new key: nothing left to do.
    export.write_text(wrangler_export(data))
    again = run_cli(elsewhere, "keys", "rotate", "--sql", "--from", str(export), init=False, ENCRYPTION_KEY=NEW)
    assert again.returncode == 0 and again.stdout == "" and "0 UPDATE statements" in again.stderr


def test_a_bad_previous_key_is_one_line(tmp_path: Path) -> None:
    env: dict[str, Any] = {"ENCRYPTION_KEY": NEW, "ENCRYPTION_KEY_PREVIOUS": "c2hvcnQ="}
    result = run_cli(tmp_path / "data", "keys", "check", init=False, **env)
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith("error: ENCRYPTION_KEY_PREVIOUS: must be base64 of exactly 32 bytes")
    ), result.stderr


# -- users' TOTP secrets ---------------------------------------------------------------------------------

PASSWORD = "correct horse battery staple"
#: The broker's sign-ins in-process (a low PBKDF2 count: these tests are about the TOTP secret).
FAST: dict[str, str] = {"PASSWORD_ITERATIONS": "10000"}
USERS_EXPORT = "SELECT name, totp_secret, totp_pending FROM users"


async def add_users(data: Path) -> dict[str, str]:
    """Under OLD: alice with two-factor on, carol with a set-up pending, and bob with a secret stored in clear
    as rows were before secrets were sealed. Returns each one's base32 secret."""
    broker = await open_broker(data, OLD, **FAST)
    try:
        for name in ("alice", "bob", "carol"):
            await broker.users.create(name, PASSWORD, "admin")
        secrets = {name: await broker.users.begin_totp(name) for name in ("alice", "carol")}
        await broker.users.confirm_totp("alice", totp.code_at(secrets["alice"], broker.clock.now() // 30 - 1))
        secrets["bob"] = totp.new_secret()
        await broker.ports.db.execute("UPDATE users SET totp_secret = ? WHERE name = 'bob'", (secrets["bob"],))
    finally:
        await broker.close()
    for secret in secrets.values():
        remember(secret)
    return secrets


async def signs_in(data: Path, name: str, secret: str, ahead: int = 1, **env: str) -> bool:
    """Whether `name` signs in with the password and the code `ahead` steps from now (within the accepted
    drift; a step once used is refused), on a broker with these keys."""
    broker = await open_broker(data, env.pop("ENCRYPTION_KEY", NEW), **FAST, **env)
    try:
        await login(broker, name, PASSWORD, totp.code_at(secret, broker.clock.now() // 30 + ahead), None)
    except SessionRefused:
        return False
    finally:
        await broker.close()
    return True


async def test_users_totp_secrets_are_sealed_and_rotate_with_the_sources(data: Path) -> None:
    secrets = await add_users(data)
    values = stored(data, USERS)
    assert set(values) == {("alice", "totp_secret"), ("bob", "totp_secret"), ("carol", "totp_pending")}
    assert all(f".{OLD_ID}." in values[(n, c)] and secrets[n] not in values[(n, c)] for n, c in values if n != "bob")
    assert values[("bob", "totp_secret")] == secrets["bob"]  # the legacy row: still in clear...
    assert await signs_in(data, "bob", secrets["bob"], -1, ENCRYPTION_KEY=OLD)  # ...and still accepted

    checked = cli(data, "keys", "check", "--json", **ROTATING)
    assert checked.returncode == 0, checked.stderr
    report = json.loads(checked.stdout)
    assert (report["previous"], report["clear"], report["complete"]) == (5, 1, False)
    text = cli(data, "keys", "check", **ROTATING).stdout
    assert "in clear (TOTP secrets from before they were sealed): 1" in text

    rotated = cli(data, "keys", "rotate", "--json", **ROTATING)
    assert rotated.returncode == 0, rotated.stderr
    report = json.loads(rotated.stdout)
    assert (report["rotated"], report["clear"], report["complete"]) == (6, 0, True)
    values = stored(data, USERS)
    assert all(f".{NEW_ID}." in v and secrets[n] not in v for (n, _), v in values.items()), values
    for output in (checked, rotated):
        assert not any(secret in output.stdout + output.stderr for secret in secrets.values())

    # With the new key alone every user signs in, and carol's pending set-up completes.
    assert await signs_in(data, "alice", secrets["alice"])
    assert await signs_in(data, "bob", secrets["bob"])
    broker = await open_broker(data, NEW, **FAST)
    try:
        code = totp.code_at(secrets["carol"], broker.clock.now() // 30)
        assert len(await broker.users.confirm_totp("carol", code)) == 10
    finally:
        await broker.close()
    again = json.loads(cli(data, "keys", "check", "--json", ENCRYPTION_KEY=NEW).stdout)
    assert (again["current"], again["previous"], again["clear"], again["complete"]) == (6, 0, 0, True)


async def test_a_users_secret_no_key_opens_is_named_by_table_and_row(data: Path) -> None:
    secrets = await add_users(data)
    foreign = await seal(CIPHER, base64.b64decode(OTHER), secrets["alice"].encode())
    with database(data) as db:
        db.execute("UPDATE users SET totp_secret = ? WHERE name = 'alice'", (foreign,))

    rotated = cli(data, "keys", "rotate", **ROTATING)
    assert rotated.returncode == 1
    assert f"user alice totp_secret: stored credentials were encrypted with key {OTHER_ID}" in rotated.stdout
    assert stored(data, USERS)[("alice", "totp_secret")] == foreign
    [entry] = json.loads(cli(data, "keys", "check", "--json", **ROTATING).stdout)["unreadable"]
    assert (entry["table"], entry["row"], entry["column"], entry["key"]) == ("users", "alice", "totp_secret", OTHER_ID)
    assert "source" not in entry
    assert not await signs_in(data, "alice", secrets["alice"], ENCRYPTION_KEY_PREVIOUS=OLD)  # refused, no crash


async def test_the_worker_rotates_users_secrets_from_an_export_of_both_tables(data: Path, tmp_path: Path) -> None:
    secrets = await add_users(data)
    export = tmp_path / "sources.json"
    export.write_text(wrangler_export(data, "SELECT id, credentials, webhook_secret FROM sources", USERS_EXPORT))
    elsewhere = tmp_path / "unused"

    sql = run_cli(elsewhere, "keys", "rotate", "--sql", "--from", str(export), init=False, **ROTATING)
    assert sql.returncode == 0, sql.stderr
    assert sql.stdout.count("UPDATE sources SET") == 3 and sql.stdout.count("UPDATE users SET") == 3
    assert "6 UPDATE statements" in sql.stderr
    with database(data) as db:
        db.executescript(sql.stdout)
    assert all(f".{NEW_ID}." in v for v in stored(data, USERS).values())
    assert await signs_in(data, "bob", secrets["bob"])

    export.write_text(wrangler_export(data, "SELECT id, credentials, webhook_secret FROM sources", USERS_EXPORT))
    checked = run_cli(elsewhere, "keys", "check", "--from", str(export), "--json", init=False, ENCRYPTION_KEY=NEW)
    assert checked.returncode == 0 and json.loads(checked.stdout)["current"] == 6, checked.stderr
