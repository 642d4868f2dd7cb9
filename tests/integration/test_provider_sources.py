"""Provider sources through the whole broker (in-process app, real SQLite, real HTTP to a GitHub-shaped fixture
over real git repositories): what a no-change re-sync costs, how a sync under a Worker's subrequest budget
resumes, how upstream failures leave what is served alone, and what the webhook route accepts."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from package_broker.broker import Broker
from package_broker.budget import Budget, spending
from package_broker.sources.credentials import Credentials
from package_broker.sources.job import sync_due, sync_source
from package_broker.sources.kinds import PROVIDERS
from package_broker.sources.providers.register import add_repository
from package_broker.web.app import App
from tests.conftest import Client, basic, open_broker
from tests.fixtures.providers.github import GitHubFixture
from tests.helpers import Repo, php_package

TOKEN = "ghp_integrationFixtureToken0123456789"
TAGS = 30


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[Broker]:
    # PRIVATE_UPSTREAMS=allow: the fixture plays api.github.com and codeload on 127.0.0.1 (two ports).
    opened = await open_broker(tmp_path, PRIVATE_UPSTREAMS="allow")
    yield opened
    await opened.close()


@pytest.fixture
def github(tmp_path: Path) -> Any:
    fixture = GitHubFixture(token=TOKEN).start()
    repo = Repo(tmp_path / "lib")
    for i in range(TAGS):
        repo.commit({"composer.json": php_package("acme/lib", "Acme\\Lib"), "VERSION": str(i)})
        repo.tag(f"v1.0.{i}")
    fixture.add_repo("acme/lib", repo.path)
    fixture.repo_dir = repo  # type: ignore[attr-defined]
    yield fixture
    fixture.stop()


async def _add(broker: Broker, fixture: GitHubFixture) -> tuple[str, str]:
    added = await add_repository(broker, PROVIDERS["github"], "acme/lib", Credentials(TOKEN), api_url=fixture.url)
    return added.source.id, added.webhook_secret


async def _sync(broker: Broker, source_id: str, budget: Budget | None = None) -> Any:
    with spending(budget or Budget()):
        return await sync_source(broker, await broker.sources.get(source_id))


async def _generation(broker: Broker) -> str:
    row = await broker.ports.db.fetch_one("SELECT value FROM broker_state WHERE name = 'generation'")
    return str(row["value"]) if row else ""


async def test_a_no_change_resync_costs_one_request_and_writes_nothing_served(
    broker: Broker, github: GitHubFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The pushes were made an hour ago (a listing taken within a minute of a push is not trusted: GitHub
    # shows a push in the repository document a moment before it lists its refs).
    github.watch.offset = -3600
    source_id, _ = await _add(broker, github)
    first = await _sync(broker, source_id)
    assert first.status == "ok" and first.versions == TAGS + 1, first.message  # 30 tags and dev-main
    generation = await _generation(broker)
    batches: list[Any] = []
    real_batch = broker.ports.db.batch

    async def counted(statements: Any) -> None:
        batches.append(statements)
        await real_batch(statements)

    monkeypatch.setattr(broker.ports.db, "batch", counted)
    seen = len(github.requests)

    again = await _sync(broker, source_id)

    assert again.status == "ok" and not again.changed, again.message
    assert len(github.requests) - seen <= 2  # the target; today it is one conditional request
    assert [path for _, path, _ in github.requests[seen:]] == ["/repos/acme/lib"]
    assert batches == []  # no catalog, ref or upstream-state write: only the sync's own status line
    assert await _generation(broker) == generation


async def test_a_sync_under_a_small_subrequest_budget_resumes_until_everything_is_served(
    broker: Broker, github: GitHubFixture
) -> None:
    source_id, _ = await _add(broker, github)
    runs = []
    for _ in range(20):
        # A Worker on the Free plan: 50 subrequests per invocation; each new ref costs up to three.
        report = await _sync(broker, source_id, Budget(fetches=50, services=1000))
        runs.append(report)
        if report.status != "partial":
            break
    assert runs[0].status == "partial" and "wait for the next run" in (runs[0].message or ""), runs[0].message
    assert runs[-1].status == "ok", [r.message for r in runs]
    assert 2 <= len(runs) <= 6
    versions = await broker.catalog.versions("acme/lib")
    assert len(versions) == TAGS + 1
    source = await broker.sources.get(source_id)
    assert source.sync_cursor is None and source.status == "ok"


async def test_a_failing_provider_leaves_what_is_served_and_says_why(broker: Broker, github: GitHubFixture) -> None:
    source_id, _ = await _add(broker, github)
    assert (await _sync(broker, source_id)).status == "ok"
    github.repo_dir.commit({"composer.json": php_package("acme/lib", "Acme\\Lib"), "VERSION": "new"})  # type: ignore[attr-defined]
    github.repo_dir.tag("v2.0.0")  # type: ignore[attr-defined]
    for kind in ("500", "badjson"):
        github.fail(r"/repos/acme/lib/tags", kind)
        report = await _sync(broker, source_id)
        assert report.status == "error", report.message
        assert "GitHub" in (report.message or "") and TOKEN not in (report.message or "")
        assert len(await broker.catalog.versions("acme/lib")) == TAGS + 1  # nothing lost, nothing half-written
    assert (await _sync(broker, source_id)).status == "ok"
    assert len(await broker.catalog.versions("acme/lib")) == TAGS + 2


def _signed(secret: str, body: bytes, event: str = "push", delivery: str | None = None) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "x-github-event": event,
        "x-github-delivery": delivery or str(uuid.uuid4()),
        "x-hub-signature-256": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(),
    }


async def test_the_webhook_route_acts_only_on_calls_signed_with_the_sources_secret(
    broker: Broker, github: GitHubFixture
) -> None:
    source_id, secret = await _add(broker, github)
    client = Client(App(broker))
    path = f"/webhooks/github/{source_id}"
    body = json.dumps({"ref": "refs/tags/v9.0.0", "after": "1" * 40}).encode()

    async def call(target: str, headers: dict[str, str], payload: bytes = body) -> tuple[int, dict[str, Any]]:
        response, text = await client.request("POST", target, headers=headers, body=payload)
        return response.status, json.loads(text)

    refused = [
        await call(path, {"content-type": "application/json", "x-github-event": "push"}),  # unsigned
        await call(path, _signed("not-the-secret", body)),
        await call(path, {**_signed(secret, body), "x-hub-signature-256": "sha256=" + "0" * 64}),
        await call(f"/webhooks/github/src_{'0' * 10}", _signed(secret, body)),  # no such source
        await call(f"/webhooks/gitea/{source_id}", _signed(secret, body)),  # not a gitea source
        await call(path, _signed(secret, body), body + b" "),  # the body was changed after signing
    ]
    for status, answer in refused:
        assert status == 401, answer
        assert secret not in json.dumps(answer)
    assert len({json.dumps(answer) for _, answer in refused}) == 1  # one answer, whatever the reason

    status, answer = await call(path, _signed(secret, body, event="ping"))
    assert status == 200 and answer["event"] == "ping"
    delivery = str(uuid.uuid4())
    status, answer = await call(path, _signed(secret, body, delivery=delivery))
    assert status == 202 and answer["sync"] == "started", answer
    replayed = [
        await call(path, _signed(secret, body, delivery=delivery)),  # the same delivery again
        await call(path, _signed(secret, body)),  # the same push under a new delivery id
    ]
    assert [status for status, _ in replayed] == [401, 401]

    response, _ = await client.request("GET", path, headers=basic("x"))
    assert response.status == 405


async def test_a_rate_limited_provider_waits_without_holding_up_other_sources(
    broker: Broker, github: GitHubFixture, tmp_path: Path
) -> None:
    limited, _ = await _add(broker, github)
    other = Repo(tmp_path / "other")
    other.commit({"composer.json": php_package("acme/other", "Acme\\Other")})
    other.tag("v1.0.0")
    await broker.sources.add("git", str(other.path))
    reset = int(time.time()) + 600
    github.limit_rate(0, reset)

    reports = {r.source_id: r for r in await sync_due(broker, 300)}

    assert reports[limited].status == "partial", reports[limited].message
    assert "rate limit reached; the sync continues after" in (reports[limited].message or "")
    assert [r.status for k, r in reports.items() if k != limited] == ["ok"]  # the next source was not held up
    asked = len(github.requests)
    again = await _sync(broker, limited)  # before the reset: nothing is sent upstream
    assert again.status == "partial" and len(github.requests) == asked
    shown = await broker.sources.get(limited)
    assert shown.status == "partial" and "rate limit" in (shown.status_message or "")


async def test_a_webhook_whose_secret_cannot_be_read_is_refused_not_an_outage(
    broker: Broker, github: GitHubFixture
) -> None:
    source_id, secret = await _add(broker, github)
    # As if sealed under a key this broker no longer holds (ENCRYPTION_KEY changed without rotation).
    await broker.ports.db.execute(
        "UPDATE sources SET webhook_secret = ? WHERE id = ?",
        ("v1.0123abcd.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", source_id),
    )
    client = Client(App(broker))
    body = b'{"ref": "refs/heads/main"}'
    response, _ = await client.request(
        "POST", f"/webhooks/github/{source_id}", headers=_signed(secret, body), body=body
    )
    assert response.status == 401
