"""Mirroring a Composer 2 repository (a real one served over HTTP from real zips) on the server runtime."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from package_broker.broker import Broker
from package_broker.budget import Budget, spending
from package_broker.composer.minifier import expand
from package_broker.sources.job import sync_source
from tests.conftest import Client, basic
from tests.fixtures.composer_repo import ComposerRepository


def files(name: str, text: str) -> dict[str, Any]:
    return {"composer.json": {"name": name, "description": f"{name} upstream"}, "src/A.php": f"<?php // {text}"}


@pytest.fixture
def upstream() -> Iterator[ComposerRepository]:
    repo = ComposerRepository().start()
    yield repo
    repo.stop()


async def add(broker: Broker, url: str, credentials: dict[str, str] | None = None, **options: Any) -> str:
    sealed = await broker.seal_credentials(credentials) if credentials else None
    return (await broker.sources.add("composer", url, sealed, options or None)).id


async def sync(broker: Broker, source_id: str, budget: Budget | None = None) -> Any:
    """Sync a source within `budget` (as a Worker invocation would), unlimited by default."""
    with spending(budget or Budget()):
        return await sync_source(broker, await broker.sources.get(source_id))


async def served(client: Client, secret: str, name: str, dev: bool = False) -> dict[str, dict[str, Any]]:
    response, body = await client.request("GET", f"/p2/{name}{'~dev' if dev else ''}.json", headers=basic(secret))
    assert response.status == 200, body
    return {v["version"]: v for v in expand(json.loads(body)["packages"][name])}


async def download(client: Client, secret: str, url: str) -> bytes:
    response, data = await client.request("GET", url.split("broker.test", 1)[1], headers=basic(secret))
    assert response.status == 200
    return data


async def test_a_repository_is_mirrored_with_its_dists(
    broker: Broker, client: Client, upstream: ComposerRepository
) -> None:
    sha = upstream.release("up/lib", "1.0.0", files("up/lib", "1.0"))
    upstream.release("up/lib", "dev-main", files("up/lib", "main"))
    upstream.release("up/other", "2.1.0", files("up/other", "2.1"), require={"up/lib": "^1.0"})
    report = await sync(broker, await add(broker, upstream.url))
    assert report.status == "ok", report.message
    secret = (await broker.tokens.create("r"))[1]
    tags = await served(client, secret, "up/lib")
    assert tags["1.0.0"]["version_normalized"] == "1.0.0.0"
    assert tags["1.0.0"]["dist"]["shasum"] == sha
    assert await download(client, secret, tags["1.0.0"]["dist"]["url"]) == upstream.dists[f"/dists/up/lib/{sha}.zip"]
    assert set(await served(client, secret, "up/lib", dev=True)) == {"dev-main"}
    assert (await served(client, secret, "up/other"))["2.1.0"]["require"] == {"up/lib": "^1.0"}
    assert "notification-url" not in tags["1.0.0"]


async def test_an_unchanged_upstream_costs_only_304s(broker: Broker, upstream: ComposerRepository) -> None:
    upstream.release("up/lib", "1.0.0", files("up/lib", "1.0"))
    source_id = await add(broker, upstream.url)
    await sync(broker, source_id)
    upstream.answers.clear()
    report = await sync(broker, source_id)
    assert report.changed is False
    assert upstream.answers == [
        ("/packages.json", 200),  # the root file is read every time (it says what to mirror)
        ("/p2/up/lib.json", 304),
        ("/p2/up/lib~dev.json", 304),
    ]


async def test_new_and_withdrawn_versions_follow_upstream_but_dists_stay(
    broker: Broker, client: Client, upstream: ComposerRepository
) -> None:
    upstream.release("up/lib", "1.0.0", files("up/lib", "1.0"))
    source_id = await add(broker, upstream.url)
    await sync(broker, source_id)
    secret = (await broker.tokens.create("r"))[1]
    old = (await served(client, secret, "up/lib"))["1.0.0"]
    upstream.release("up/lib", "1.1.0", files("up/lib", "1.1"))
    upstream.withdraw("up/lib", "1.0.0")
    report = await sync(broker, source_id)
    assert report.changed
    assert set(await served(client, secret, "up/lib")) == {"1.1.0"}
    assert hashlib.sha1(await download(client, secret, old["dist"]["url"])).hexdigest() == old["dist"]["shasum"]


async def test_credentials_go_to_the_repository_host_only(broker: Broker, client: Client) -> None:
    broker.settings = replace(broker.settings, private_upstreams="allow")  # both hosts are on 127.0.0.1
    dist_host = ComposerRepository().start()
    private = ComposerRepository("deploy", "s3cr3t", dist_base=dist_host.url).start()
    try:
        sha = private.release("up/private", "1.0.0", files("up/private", "p"))
        dist_host.add_dist(f"/dists/up/private/{sha}.zip", private.dists[f"/dists/up/private/{sha}.zip"])
        wrong = await sync(broker, await add(broker, private.url, {"username": "deploy", "password": "nope"}))
        assert wrong.status == "error" and "HTTP 401" in (wrong.message or "") and "nope" not in (wrong.message or "")
        right = await sync(
            broker, await add(broker, private.url + "/packages.json", {"username": "deploy", "password": "s3cr3t"})
        )
        assert right.status == "ok", right.message
        assert all(with_auth for path, with_auth in private.requests[-3:])
        assert dist_host.requests and not any(with_auth for _, with_auth in dist_host.requests)
    finally:
        private.stop()
        dist_host.stop()


async def test_a_dist_that_does_not_match_its_shasum_is_not_served(
    broker: Broker, upstream: ComposerRepository
) -> None:
    sha = upstream.release("up/lib", "1.0.0", files("up/lib", "1.0"))
    upstream.add_dist(f"/dists/up/lib/{sha}.zip", b"PK\x05\x06" + b"\0" * 18)  # tampered bytes, same URL
    report = await sync(broker, await add(broker, upstream.url))
    assert any("not the upstream shasum" in reason for _, reason in report.skipped)
    assert await broker.catalog.versions("up/lib") == []
    assert await broker.catalog.package("up/lib") is None  # nothing to serve: no empty package either


async def test_a_spent_budget_leaves_work_for_the_next_run(
    broker: Broker, client: Client, upstream: ComposerRepository
) -> None:
    for minor in range(3):
        upstream.release("up/lib", f"1.{minor}.0", files("up/lib", str(minor)))
    source_id = await add(broker, upstream.url)
    # packages.json and the two p2 files fit; no archive does.
    first = await sync(broker, source_id, Budget(fetches=3))
    assert first.status == "partial" and "budget ran out" in first.message
    assert (await broker.sources.get(source_id)).status == "partial"
    second = await sync(broker, source_id)
    assert second.status == "ok" and not second.skipped
    assert set(await served(client, (await broker.tokens.create("r"))[1], "up/lib")) == {"1.0.0", "1.1.0", "1.2.0"}


async def test_small_budgets_converge_run_after_run_and_never_overspend(
    broker: Broker, client: Client, upstream: ComposerRepository
) -> None:
    names = [f"up/pkg{i}" for i in range(6)]
    for name in names:
        for minor in range(2):
            upstream.release(name, f"1.{minor}.0", files(name, str(minor)))
    source_id = await add(broker, upstream.url)
    runs: list[tuple[str, int]] = []
    while not runs or runs[-1][0] != "ok":
        assert len(runs) < 20, runs
        spend = Budget(fetches=6, services=20)
        report = await sync(broker, source_id, spend)
        assert spend.used_fetches <= 6 and spend.used_services <= 20
        runs.append((report.status, spend.used_fetches))
    assert len(runs) > 2 and all(status == "partial" for status, _ in runs[:-1])
    secret = (await broker.tokens.create("r"))[1]
    for name in names:
        assert set(await served(client, secret, name)) == {"1.0.0", "1.1.0"}
    # Unchanged upstream: two conditional requests per package and no database write at all.
    upstream.requests.clear()
    spend = Budget()
    assert (await sync(broker, source_id, spend)).status == "ok"
    assert spend.used_fetches == 1 + 2 * len(names)
    assert not [path for path, _ in upstream.requests if path.startswith("/dists/")]


async def test_only_the_named_packages_are_mirrored(broker: Broker, upstream: ComposerRepository) -> None:
    upstream.release("up/lib", "1.0.0", files("up/lib", "1.0"))
    upstream.release("up/skip", "1.0.0", files("up/skip", "1.0"))
    await sync(broker, await add(broker, upstream.url, packages=["up/lib"]))
    assert await broker.catalog.package("up/lib") is not None
    assert await broker.catalog.package("up/skip") is None


async def test_a_repository_without_metadata_url_is_explained(broker: Broker, upstream: ComposerRepository) -> None:
    report = await sync(broker, await add(broker, upstream.url + "/p2/none.json"))
    assert report.status == "error"
    unreachable = await sync(broker, await add(broker, "http://127.0.0.1:9/"))
    assert unreachable.status == "error" and "failed" in (unreachable.message or "")


async def test_a_package_gone_from_the_upstream_stays_served(
    broker: Broker, client: Client, upstream: ComposerRepository
) -> None:
    upstream.release("up/lib", "1.0.0", files("up/lib", "1.0"))
    source_id = await add(broker, upstream.url, packages=["up/lib"])
    await sync(broker, source_id)
    del upstream.packages["up/lib"]  # the upstream answers 404 for both of its files now
    report = await sync(broker, source_id)
    assert ("up/lib", "the upstream no longer lists it; its versions stay served") in report.skipped
    assert set(await served(client, (await broker.tokens.create("r"))[1], "up/lib")) == {"1.0.0"}


async def test_an_archive_over_the_size_cap_is_refused_while_it_arrives(
    broker: Broker, upstream: ComposerRepository
) -> None:
    upstream.release("up/small", "1.0.0", files("up/small", "ok"))
    sha = upstream.release("up/huge", "1.0.0", {**files("up/huge", "x"), "blob.bin": os.urandom(3 * 1024 * 1024)})
    broker.settings = replace(broker.settings, max_upload_bytes=1024 * 1024)
    report = await sync(broker, await add(broker, upstream.url))
    assert report.status == "ok", report.message
    reasons = dict(report.skipped)
    assert "larger than the limit of 1048576 bytes (MAX_UPLOAD_BYTES)" in reasons["up/huge 1.0.0"]
    assert await broker.catalog.versions("up/huge") == []
    assert [v.version for v in await broker.catalog.versions("up/small")] == ["1.0.0"]
    assert await broker.ports.objects.head(f"dists/up/huge/{sha}.zip") is None


async def test_metadata_over_its_cap_skips_the_package(
    broker: Broker, upstream: ComposerRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    from package_broker.sources import composer_repo

    bulky = {"composer.json": {"name": "up/lib", "description": "x" * 5000}, "src/A.php": "<?php"}
    upstream.release("up/lib", "1.0.0", bulky)
    monkeypatch.setattr(composer_repo, "MAX_METADATA_BYTES", 4000)
    report = await sync(broker, await add(broker, upstream.url, packages=["up/lib"]))
    assert "up/lib" in dict(report.skipped)
    assert "larger than the limit of 4000 bytes" in dict(report.skipped)["up/lib"]


async def test_an_upstream_that_drips_is_dropped_at_the_time_limit(
    broker: Broker, upstream: ComposerRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    from package_broker.sources import composer_repo

    upstream.release("up/slow", "1.0.0", files("up/slow", "1.0"))
    upstream.release("up/fine", "1.0.0", files("up/fine", "1.0"))
    upstream.drip["/p2/up/slow.json"] = 0.05  # a byte every 50 ms: never idle, never done
    monkeypatch.setattr(composer_repo, "METADATA_SECONDS", 1.0)
    started = time.monotonic()
    report = await sync(broker, await add(broker, upstream.url))
    assert time.monotonic() - started < 10
    assert "took longer than 1 s; gave up" in dict(report.skipped)["up/slow"]
    assert [v.version for v in await broker.catalog.versions("up/fine")] == ["1.0.0"]


async def test_an_upstream_that_goes_silent_is_dropped_at_the_idle_limit(
    broker: Broker, upstream: ComposerRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    from package_broker.runtimes.server import httpx_client

    sha = upstream.release("up/stuck", "1.0.0", files("up/stuck", "1.0"))
    upstream.drip[f"/dists/up/stuck/{sha}.zip"] = 5.0  # one byte, then five seconds of silence
    monkeypatch.setattr(httpx_client, "IDLE_SECONDS", 0.5)
    started = time.monotonic()
    report = await sync(broker, await add(broker, upstream.url))
    assert time.monotonic() - started < 4
    assert "failed: ReadTimeout" in dict(report.skipped)["up/stuck 1.0.0"]


async def test_an_upstream_may_not_send_the_broker_to_other_private_addresses(
    broker: Broker, upstream: ComposerRepository
) -> None:
    elsewhere = ComposerRepository().start()  # another service on the broker's private network
    try:
        sha = upstream.release("up/lib", "1.0.0", files("up/lib", "1.0"))
        elsewhere.add_dist(f"/dists/up/lib/{sha}.zip", upstream.dists[f"/dists/up/lib/{sha}.zip"])
        upstream.packages["up/lib"]["1.0.0"]["dist"]["url"] = f"{elsewhere.url}/dists/up/lib/{sha}.zip"
        report = await sync(broker, await add(broker, upstream.url))  # PRIVATE_UPSTREAMS=same-host
        assert "non-public address (127.0.0.1) and PRIVATE_UPSTREAMS=same-host" in dict(report.skipped)["up/lib 1.0.0"]
        assert not elsewhere.requests
        broker.settings = replace(broker.settings, private_upstreams="allow")
        report = await sync(broker, await add(broker, upstream.url + "/packages.json"))
        assert report.status == "ok" and not report.skipped, report.message
        broker.settings = replace(broker.settings, private_upstreams="deny")
        denied = await sync(broker, await add(broker, upstream.url + "/"))
        assert denied.status == "error" and "PRIVATE_UPSTREAMS=deny" in (denied.message or "")
    finally:
        elsewhere.stop()


async def test_a_redirect_is_checked_like_the_url_itself(broker: Broker, upstream: ComposerRepository) -> None:
    elsewhere = ComposerRepository().start()
    try:
        sha = upstream.release("up/lib", "1.0.0", files("up/lib", "1.0"))
        path = f"/dists/up/lib/{sha}.zip"
        elsewhere.add_dist(path, upstream.dists[path])
        upstream.redirects[path] = f"{elsewhere.url}{path}"  # the source's own host answers 302 elsewhere
        report = await sync(broker, await add(broker, upstream.url))
        assert "non-public address" in dict(report.skipped)["up/lib 1.0.0"]
        assert not elsewhere.requests
    finally:
        elsewhere.stop()


async def test_a_mirrored_archive_must_pass_the_upload_checks(broker: Broker, upstream: ComposerRepository) -> None:
    json_body = b'{"status": "ok", "checks": {}}'  # e.g. the broker's own /health, passed off as a zip
    sha = upstream.release("up/lib", "1.0.0", files("up/lib", "1.0"))
    upstream.add_dist(f"/dists/up/lib/{sha}.zip", json_body)
    upstream.packages["up/lib"]["1.0.0"]["dist"]["shasum"] = hashlib.sha1(json_body).hexdigest()
    report = await sync(broker, await add(broker, upstream.url))
    assert "not a zip archive" in dict(report.skipped)["up/lib 1.0.0"]
    assert await broker.catalog.versions("up/lib") == []


async def test_deeply_nested_upstream_metadata_skips_the_package(broker: Broker, upstream: ComposerRepository) -> None:
    upstream.release("up/lib", "1.0.0", files("up/lib", "1.0"))
    upstream.release("up/deep", "1.0.0", {**files("up/deep", "d")})
    upstream.packages["up/deep"]["1.0.0"]["extra"] = json.loads("[" * 5000 + "]" * 5000)
    report = await sync(broker, await add(broker, upstream.url))
    assert report.status == "ok", report.message
    assert "not a Composer 2 p2 file" in dict(report.skipped)["up/deep"]
    assert [v.version for v in await broker.catalog.versions("up/lib")] == ["1.0.0"]


@pytest.mark.parametrize(
    ("require", "why"),
    [({"up/lib": "^1.0 || nonsense"}, "Could not parse version constraint"), (["^1.0"], "not a package name")],
)
async def test_a_mirrored_version_composer_could_not_load_is_skipped_alone(
    broker: Broker, upstream: ComposerRepository, require: Any, why: str
) -> None:
    upstream.release("up/lib", "1.0.0", files("up/lib", "1.0"))
    upstream.release("up/lib", "1.1.0", files("up/lib", "1.1"))
    upstream.packages["up/lib"]["1.1.0"]["require"] = require
    report = await sync(broker, await add(broker, upstream.url))
    assert why in dict(report.skipped)["up/lib 1.1.0"]
    assert [v.version for v in await broker.catalog.versions("up/lib")] == ["1.0.0"]
