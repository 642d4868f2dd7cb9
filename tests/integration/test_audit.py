"""The audit log (issue 10): one entry per administrative action, with who, what, on what, when and from where,
through the real CLI and the real server (and the in-process broker for retention); never a secret."""

from __future__ import annotations

import getpass
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from package_broker import audit
from package_broker.broker import Broker
from package_broker.config import Settings
from package_broker.errors import ConfigError
from package_broker.runtimes.server.bootstrap import build_broker, migrate
from package_broker.sources.job import sync_due
from tests.conftest import BrokerServer, basic
from tests.fixtures.providers.github import GitHubFixture
from tests.helpers import Repo, make_zip, php_package

UPSTREAM_PASSWORD = "upstream-Passw0rd-for-the-audit-test"
GITHUB_TOKEN = "ghp_auditFixtureToken0123456789abcdef"


def cli_actor() -> str:
    return f"cli:{getpass.getuser()}"


def entries(server: BrokerServer, *args: str) -> list[dict[str, Any]]:
    return list(json.loads(server.cli("audit", "--json", *args).stdout))


def one(server: BrokerServer, action: str, target: str | None = None) -> dict[str, Any]:
    found = [e for e in entries(server, "--action", action) if target is None or e["target"] == target]
    assert len(found) == 1, (action, target, found)
    return found[0]


@pytest.fixture
def github(tmp_path: Path) -> Iterator[GitHubFixture]:
    fixture = GitHubFixture(token=GITHUB_TOKEN).start()
    repo = Repo(tmp_path / "gh-lib")
    repo.commit({"composer.json": php_package("acme/gh-lib", "Acme\\GhLib")})
    repo.tag("v1.0.0")
    fixture.add_repo("acme/gh-lib", repo.path)
    yield fixture
    fixture.stop()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[BrokerServer]:
    # PRIVATE_UPSTREAMS=allow: the GitHub fixture is on 127.0.0.1.
    env = {
        "MEMO_SECONDS": "0",
        "PRIVATE_UPSTREAMS": "allow",
        "UPSTREAM_PASSWORD": UPSTREAM_PASSWORD,
        "GH_TOKEN": GITHUB_TOKEN,
    }
    running = BrokerServer(tmp_path / "broker", extra_env=env).start()
    yield running
    running.stop()


def test_every_administrative_action_is_recorded_with_who_what_and_where(
    server: BrokerServer, github: GitHubFixture, tmp_path: Path
) -> None:
    me = cli_actor()
    secrets: list[str] = [UPSTREAM_PASSWORD, GITHUB_TOKEN]

    # Tokens, from the command line: no address.
    made = json.loads(server.cli("token", "create", "-d", "CI", "--permission", "write", "--json").stdout)
    writer, writer_id = made["token"], made["id"]
    doomed = json.loads(server.cli("token", "create", "-d", "old laptop", "--json").stdout)
    secrets += [writer, doomed["token"]]
    server.cli("token", "revoke", doomed["id"])
    created = one(server, "token.created", writer_id)
    assert (created["actor"], created["address"]) == (me, None)
    assert created["details"] == {"description": "CI", "permission": "write", "expires_at": None}
    assert one(server, "token.revoked", doomed["id"])["actor"] == me

    # Sources: added (with an upstream password), edited, disabled, enabled, synced by hand, removed.
    repo = Repo(tmp_path / "lib")
    repo.commit({"composer.json": php_package("acme/lib", "Acme\\Lib")})
    repo.tag("v1.0.0")
    git = json.loads(server.cli("source", "add", "git", str(repo.path), "--no-sync", "--json").stdout)["id"]
    mirror = json.loads(
        server.cli(
            "source",
            "add",
            "composer",
            "https://repo.example.com/private",
            "--username",
            "deploy",
            "--password-env",
            "UPSTREAM_PASSWORD",
            "--no-sync",
            "--json",
        ).stdout
    )["id"]
    added = one(server, "source.added", mirror)
    assert (added["actor"], added["details"]) == (me, {"kind": "composer", "url": "https://repo.example.com/private"})
    server.cli("source", "edit", mirror, "--username", "deploy", "--password-env", "UPSTREAM_PASSWORD")
    server.cli("source", "edit", mirror, "--interval", "3600")
    edits = [e for e in entries(server, "--action", "source.edited") if e["target"] == mirror]
    assert [e["details"] for e in edits] == [
        {"changed": ["sync_interval"], "sync_interval": 3600},
        {"changed": ["credentials"]},
    ]
    server.cli("source", "disable", mirror)
    server.cli("source", "enable", mirror)
    assert one(server, "source.disabled", mirror)["actor"] == me
    assert one(server, "source.enabled", mirror)["actor"] == me
    server.cli("sync", git)
    synced = one(server, "source.synced", git)
    assert (synced["actor"], synced["address"]) == (me, None)
    server.cli("source", "remove", mirror)
    removed = one(server, "source.removed", mirror)
    assert removed["details"] == {
        "kind": "composer",
        "url": "https://repo.example.com/private",
        "packages": 0,
        "purge": False,
    }

    # Over HTTP with the write token: the token is the actor, the client's address is recorded.
    response = httpx.post(f"{server.url}/api/sync", params={"source": git}, headers=basic(writer))
    assert response.status_code == 200
    by_token = [e for e in entries(server, "--action", "source.synced", "--actor", writer_id)]
    assert [(e["target"], e["address"]) for e in by_token] == [(git, "127.0.0.1")]
    response = httpx.post(f"{server.url}/api/sync", headers=basic(writer))
    assert response.status_code == 200
    every = entries(server, "--action", "source.synced", "--actor", writer_id)[0]
    assert every["target"] is None and every["details"]["all"] is True

    archive = make_zip({"composer.json": {"name": "acme/tool", "version": "1.0.0"}})
    response = httpx.post(
        f"{server.url}/api/artifacts", content=archive, headers={**basic(writer), "content-type": "application/zip"}
    )
    assert response.status_code == 201, response.text
    published = one(server, "package.published", "acme/tool 1.0.0")
    assert (published["actor"], published["address"]) == (writer_id, "127.0.0.1")
    assert published["details"]["reference"] == response.json()["reference"]
    zip_path = tmp_path / "tool.zip"
    zip_path.write_bytes(make_zip({"composer.json": {"name": "acme/tool", "version": "1.1.0"}}))
    server.cli("publish", str(zip_path))
    assert one(server, "package.published", "acme/tool 1.1.0")["actor"] == me

    # Packages: delete an upload, hide a git version, restore it.
    server.cli("package", "delete", "acme/tool", "1.0.0")
    deleted = one(server, "package.deleted", "acme/tool 1.0.0")
    assert (deleted["actor"], deleted["details"]) == (me, {"hidden": False, "purge": False})
    server.cli("package", "delete", "acme/lib", "1.0.0")
    assert one(server, "package.deleted", "acme/lib v1.0.0")["details"]["hidden"] is True  # as served
    server.cli("package", "restore", "acme/lib", "1.0.0")
    assert one(server, "package.restored", "acme/lib v1.0.0")["actor"] == me

    # A provider source: added with its token, its webhook secret renewed, then a signed push.
    result = server.cli(
        "source",
        "add",
        "github",
        "acme/gh-lib",
        "--token-env",
        "GH_TOKEN",
        "--api-url",
        github.url,
        "--no-sync",
        "--json",
    )
    provider = json.loads(result.stdout)
    assert one(server, "source.added", provider["id"])["details"]["kind"] == "github"
    assert entries(server, "--action", "source.webhook_renewed") == []  # a new source's first secret is no renewal
    renewed = json.loads(server.cli("source", "webhook", provider["id"], "--json").stdout)
    secret = renewed["webhook"]["secret"]
    secrets += [provider["webhook"]["secret"], secret]
    assert one(server, "source.webhook_renewed", provider["id"])["actor"] == me
    body = json.dumps({"ref": "refs/tags/v1.0.0", "after": "1" * 40}).encode()
    headers = {
        "content-type": "application/json",
        "x-github-event": "push",
        "x-github-delivery": str(uuid.uuid4()),
        "x-hub-signature-256": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(),
    }
    response = httpx.post(f"{server.url}/webhooks/github/{provider['id']}", content=body, headers=headers)
    assert response.status_code == 202, response.text
    deadline = time.monotonic() + 30
    while not (pushed := entries(server, "--actor", "webhook:github")) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [(e["action"], e["target"], e["address"]) for e in pushed] == [
        ("source.synced", provider["id"], "127.0.0.1")
    ]

    # Nothing secret in any entry, in the human view, or in the server's log.
    everything = server.cli("audit", "--json", "--limit", "1000").stdout
    human = server.cli("audit", "--limit", "1000").stdout
    logs = server.log_text()
    for value in secrets:
        assert value not in everything and value not in human and value not in logs


def test_audit_filters_and_human_view(server: BrokerServer) -> None:
    first = json.loads(server.cli("token", "create", "-d", "one", "--json").stdout)["id"]
    server.cli("token", "create", "-d", "two", "--json")
    server.cli("token", "revoke", first)

    # `serve` made the first token (recorded too), then two here and a revocation.
    assert [e["action"] for e in entries(server)] == ["token.revoked"] + ["token.created"] * 3
    assert len(entries(server, "--action", "token.created")) == 3
    assert len(entries(server, "--action", "token.")) == 4  # a family
    assert entries(server, "--action", "source.added") == []
    assert len(entries(server, "--actor", cli_actor())) == 4
    assert entries(server, "--actor", "tok_nobody") == []
    assert len(entries(server, "--since", "1h")) == 4
    assert entries(server, "--since", "2999-01-01") == []
    assert len(entries(server, "--since", "2000-01-01T00:00:00+00:00")) == 4
    [newest] = entries(server, "--limit", "1")
    assert newest["action"] == "token.revoked" and newest["at"].endswith("+00:00")
    assert newest["id"].startswith("aud_")

    human = server.cli("audit").stdout.splitlines()
    assert human[0].split() == ["TIME", "ACTOR", "ACTION", "TARGET", "ADDRESS"]
    assert "UTC" in human[1] and cli_actor() in human[1] and "token.revoked" in human[1] and first in human[1]
    assert human[1].rstrip().endswith("-")  # no address from the command line
    assert "No audit entries match" in server.cli("audit", "--action", "keys.rotated").stdout
    bad = server.cli("audit", "--since", "last tuesday", check=False)
    assert bad.returncode == 2 and "--since" in bad.stderr


def test_token_and_source_sql_for_the_worker_carry_their_audit_entry(server: BrokerServer) -> None:
    created = server.cli("token", "create", "-d", "worker CI", "--sql")
    assert "INSERT INTO audit_log" in created.stdout and "'token.created'" in created.stdout
    revoked = server.cli("token", "revoke", "tok_0123456789abcdef", "--sql")
    assert "INSERT INTO audit_log" in revoked.stdout and "'token.revoked'" in revoked.stdout
    secret = created.stderr.split("shown only now: ")[1].split()[0]
    assert secret not in created.stdout.split("INSERT INTO audit_log")[1]


async def _broker(tmp_path: Path, **env: str) -> Broker:
    opened = await build_broker({"DATA_DIR": str(tmp_path / "data"), **env})
    await migrate(opened)
    return opened


async def test_the_scheduled_sync_purges_entries_past_the_retention_once_a_day(tmp_path: Path) -> None:
    broker = await _broker(tmp_path, AUDIT_RETENTION_DAYS="30")
    try:
        now = broker.clock.now()
        db = broker.ports.db
        await db.execute(*audit.statement(now - 31 * 86400, "cli:ops", "token.created", "tok_old"))
        await db.execute(*audit.statement(now - 29 * 86400, "cli:ops", "token.created", "tok_recent"))
        await broker.audit.log("cli:ops", "token.revoked", "tok_recent")
        await sync_due(broker, 300)
        assert [e.target for e in await broker.audit.entries()] == ["tok_recent", "tok_recent"]
        assert await broker.audit.entries(action="source.synced") == []  # the scheduled sync is not recorded
        # At most once a day: an entry that expires now waits for tomorrow's purge.
        await db.execute(*audit.statement(now - 40 * 86400, "cli:ops", "token.created", "tok_older"))
        await sync_due(broker, 300)
        assert "tok_older" in [e.target for e in await broker.audit.entries()]
        # purge() itself is one DELETE by time.
        await broker.audit.purge(now - 30 * 86400)
        assert "tok_older" not in [e.target for e in await broker.audit.entries()]
    finally:
        await broker.close()


async def test_a_retention_of_zero_keeps_entries_forever(tmp_path: Path) -> None:
    broker = await _broker(tmp_path, AUDIT_RETENTION_DAYS="0")
    try:
        old = broker.clock.now() - 3650 * 86400
        await broker.ports.db.execute(*audit.statement(old, "cli:ops", "token.created", "tok_ancient"))
        await sync_due(broker, 300)
        assert [e.target for e in await broker.audit.entries()] == ["tok_ancient"]
    finally:
        await broker.close()
    assert Settings.from_mapping({}).audit_retention_days == 365
    with pytest.raises(ConfigError, match="AUDIT_RETENTION_DAYS"):
        Settings.from_mapping({"AUDIT_RETENTION_DAYS": "-1"})


async def test_in_process_actions_are_recorded_as_whoever_the_entry_point_says(broker: Broker) -> None:
    with audit.acting_as("user:alice", "192.0.2.7"):
        made, secret = await broker.tokens.create("from the admin API")
    await broker.tokens.revoke(made.id)  # no entry point said who: recorded, as "system"
    logged = {e.action: e for e in await broker.audit.entries()}
    assert (logged["token.created"].actor, logged["token.created"].address) == ("user:alice", "192.0.2.7")
    assert (logged["token.revoked"].actor, logged["token.revoked"].address) == ("system", None)
    assert secret not in json.dumps([e.details for e in logged.values()])
    # A key rotation is recorded through the same function the key-rotation code calls.
    with audit.acting_as("cli:ops"):
        await broker.ports.db.execute(*audit.rotated_key(broker.clock.now(), "key-2", details={"resealed": 3}))
    [rotated] = await broker.audit.entries(action="keys.rotated")
    assert (rotated.actor, rotated.target, rotated.details) == ("cli:ops", "key-2", {"resealed": 3})


def test_the_guard_refuses_secrets_and_strips_url_credentials() -> None:
    token = "pkb_" + "A" * 42
    for details in (
        {"note": f"leaked {token}"},
        {"password": "hunter2hunter2"},
        {"webhook_secret": "x"},
        {"credentials": {"token": "abc"}},
        {"nested": [{"upstream": "ghp_0123456789abcdefghijABCDEFGHIJ"}]},
        {"object": object()},
    ):
        with pytest.raises(audit.SecretInAudit):
            audit.clean(details)
    with pytest.raises(audit.SecretInAudit):
        audit.statement(0, "cli:ops", "token.created", token)
    assert audit.clean({"url": "https://deploy:s3cret@repo.example.com/x"}) == {"url": "https://repo.example.com/x"}
    assert audit.clean({"token_id": "tok_1", "count": 2, "flag": True}) == {
        "token_id": "tok_1",
        "count": 2,
        "flag": True,
    }
    assert audit.clean({}) is None


def test_the_cli_actor_is_the_login_name(tmp_path: Path) -> None:
    from tests.helpers import run_cli

    data = tmp_path / "data"
    assert run_cli(data, "token", "create", "-d", "x", LOGNAME="ops-person", USER="ops-person").returncode == 0
    result = run_cli(data, "audit", "--json")
    # `init` (run by run_cli first) made the first token, as the same person.
    assert [e["actor"] for e in json.loads(result.stdout)] == ["cli:ops-person"] * 2
