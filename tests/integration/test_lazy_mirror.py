"""The lazy packagist mirror against a fixture that speaks packagist.org's protocol with real libraries:
fetched on first request, dists on first download, private wins, advisories, limits, refresh."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from package_broker.advisories.store import AdvisoryStore
from package_broker.broker import Broker
from package_broker.budget import Budget, spending
from package_broker.composer.minifier import expand
from package_broker.sources.job import sync_source
from package_broker.web.app import App
from tests.conftest import Client, basic, open_broker
from tests.fixtures.packagist import Packagist, available_libraries
from tests.helpers import make_zip, php_package, run_cli


@pytest.fixture
def upstream(tmp_path: Path) -> Iterator[Packagist]:
    fixture = Packagist(tmp_path / "packagist").start()
    yield fixture
    fixture.stop()


async def mirror(broker: Broker, url: str) -> str:
    """Add the lazy mirror and run its first sync (reads the upstream's packages.json)."""
    source = await broker.sources.add("packagist", url)
    with spending(Budget()):
        report = await sync_source(broker, source)
    assert report.status == "ok", report.message
    return source.id


async def p2(client: Client, secret: str, name: str, dev: bool = False) -> tuple[int, dict[str, Any]]:
    response, body = await client.request("GET", f"/p2/{name}{'~dev' if dev else ''}.json", headers=basic(secret))
    if response.status != 200:
        return response.status, {}
    return 200, {v["version"]: v for v in expand(json.loads(body)["packages"][name])}


async def get(client: Client, secret: str, url: str) -> tuple[int, bytes]:
    response, data = await client.request("GET", url.split("broker.test", 1)[1], headers=basic(secret))
    return response.status, data


async def publish_private(client: Client, secret: str, name: str, version: str) -> None:
    archive = make_zip({"composer.json": php_package(name, "Private\\Lib"), "src/A.php": "<?php // private"})
    response, body = await client.request(
        "POST",
        "/api/artifacts",
        query=f"version={version}",
        headers={**basic(secret), "content-type": "application/zip"},
        body=archive,
    )
    assert response.status == 201, body


@pytest.fixture
async def limited(tmp_path: Path) -> AsyncIterator[Broker]:
    opened = await open_broker(tmp_path / "limited", MIRROR_NAMES_PER_MINUTE="2")
    yield opened
    await opened.close()


def library() -> str:
    names = available_libraries()
    if "psr/log" not in names:
        pytest.fail("the Debian PHP libraries are missing (scripts/setup --test installs them)")
    return "psr/log"


async def test_a_name_is_fetched_on_first_request_and_its_dist_on_first_download(
    broker: Broker, client: Client, upstream: Packagist
) -> None:
    name = library()
    entry = upstream.publish_library(name)
    await mirror(broker, upstream.url)
    secret = (await broker.tokens.create("r"))[1]

    status, versions = await p2(client, secret, name)
    assert status == 200 and set(versions) == {entry["version"]}
    assert upstream.asked(f"/p2/{name}.json") == 1  # one upstream request for the miss
    dist = versions[entry["version"]]["dist"]
    assert dist["url"].startswith("http://broker.test/dists/psr/log/")
    assert dist["shasum"] == entry["dist"]["shasum"]
    assert versions[entry["version"]]["autoload"] == {"classmap": ["src/"]}

    # Served from the broker afterwards: no second upstream request, even after the memory cache is gone.
    broker.cache.forget()
    assert (await p2(client, secret, name))[0] == 200
    assert upstream.asked(f"/p2/{name}.json") == 1

    status, data = await get(client, secret, dist["url"])
    upstream_zip = (upstream.root / entry["dist"]["url"].split("/", 3)[3]).read_bytes()
    assert status == 200 and data == upstream_zip
    assert hashlib.sha1(data).hexdigest() == dist["shasum"]
    # The upstream goes away: metadata and the archive are still served.
    upstream.stop()
    broker.cache.forget()
    assert (await p2(client, secret, name))[0] == 200
    assert await get(client, secret, dist["url"]) == (200, upstream_zip)


async def test_private_wins_over_a_public_twin_and_private_vendors_are_never_fetched(
    broker: Broker, client: Client, upstream: Packagist
) -> None:
    writer = (await broker.tokens.create("w", permission="write"))[1]
    await publish_private(client, writer, "acme/lib", "1.0.0")
    upstream.publish("acme/lib", "9.9.0", {"src/A.php": "<?php // evil"}, {"description": "public twin"})
    upstream.publish("acme/tool", "9.9.0", {"src/A.php": "<?php // evil"}, {"description": "public twin"})
    upstream.publish("up/shadowed", "1.0.0", {"src/A.php": "<?php // public"}, {"description": "public"})
    await mirror(broker, upstream.url)
    secret = (await broker.tokens.create("r"))[1]

    status, versions = await p2(client, secret, "acme/lib")
    assert status == 200 and set(versions) == {"1.0.0"}
    assert upstream.asked("/p2/acme/lib.json") == 0
    assert (await p2(client, secret, "acme/lib", dev=True)) == (200, {})  # the private package has no branches
    assert upstream.asked("/p2/acme/lib~dev.json") == 0

    await broker.mirror.store.mark_private("acme")
    assert (await p2(client, secret, "acme/tool"))[0] == 404
    assert upstream.asked("/p2/acme/tool.json") == 0

    # A name the mirror served, then published privately: from then on only the private versions.
    assert set((await p2(client, secret, "up/shadowed"))[1]) == {"1.0.0"}
    await publish_private(client, writer, "up/shadowed", "0.1.0")
    assert set((await p2(client, secret, "up/shadowed"))[1]) == {"0.1.0"}
    looked = await broker.mirror.store.lookup("up/shadowed", (await broker.mirror.source()).id)  # type: ignore[union-attr]
    assert not looked.decision.mirror and "private source" in looked.decision.reason


async def test_unknown_names_are_remembered_and_new_names_are_capped_per_token(
    limited: Broker, upstream: Packagist
) -> None:
    client = Client(App(limited))
    for index in range(3):
        upstream.publish(f"up/p{index}", "1.0.0", {"src/A.php": "<?php"}, {})
    await mirror(limited, upstream.url)
    secret = (await limited.tokens.create("r"))[1]

    assert (await p2(client, secret, "nobody/here"))[0] == 404
    assert (await p2(client, secret, "nobody/here"))[0] == 404  # remembered as missing: not asked again
    assert upstream.asked("/p2/nobody/here.json") == 1
    assert (await p2(client, secret, "up/p0"))[0] == 200  # the second new name this minute
    response, body = await client.request("GET", "/p2/up/p1.json", headers=basic(secret))
    assert response.status == 429 and int(response.header("retry-after") or 0) >= 1
    assert "MIRROR_NAMES_PER_MINUTE" in json.loads(body)["warning"]
    assert upstream.asked("/p2/up/p1.json") == 0
    assert (await p2(client, secret, "up/p0"))[0] == 200  # names already mirrored are not counted


async def test_the_sync_refreshes_mirrored_files_with_conditional_requests(
    broker: Broker, client: Client, upstream: Packagist
) -> None:
    upstream.publish("up/lib", "1.0.0", {"src/A.php": "<?php // 1.0"}, {})
    source_id = await mirror(broker, upstream.url)
    secret = (await broker.tokens.create("r"))[1]
    assert set((await p2(client, secret, "up/lib"))[1]) == {"1.0.0"}

    upstream.publish("up/lib", "1.1.0", {"src/A.php": "<?php // 1.1"}, {})
    with spending(Budget()):
        report = await sync_source(broker, await broker.sources.get(source_id))
    assert report.changed, report.message
    assert set((await p2(client, secret, "up/lib"))[1]) == {"1.0.0", "1.1.0"}

    before = len(upstream.requests)
    with spending(Budget()):
        report = await sync_source(broker, await broker.sources.get(source_id))
    assert not report.changed
    # Only conditional requests, for the root file and each mirrored file, and the upstream said 304 to all.
    assert [p for _, p in upstream.requests[before:]] == ["/packages.json", "/p2/up/lib.json"]


async def test_a_dist_whose_bytes_do_not_match_the_upstream_shasum_is_refused(
    broker: Broker, client: Client, upstream: Packagist
) -> None:
    entry = upstream.publish("up/lib", "1.0.0", {"src/A.php": "<?php // 1.0"}, {})
    (upstream.root / entry["dist"]["url"].split("/", 3)[3]).write_bytes(make_zip({"composer.json": {"name": "x/y"}}))
    await mirror(broker, upstream.url)
    secret = (await broker.tokens.create("r"))[1]
    dist = (await p2(client, secret, "up/lib"))[1]["1.0.0"]["dist"]
    status, body = await get(client, secret, dist["url"])
    assert status == 503 and b"sha1" not in body  # the reason is in the log, not the answer
    assert (await get(client, secret, dist["url"]))[0] == 503  # nothing was stored


async def test_packages_json_advertises_advisories_and_answers_from_the_right_origin(
    broker: Broker, client: Client, upstream: Packagist
) -> None:
    upstream.publish("up/lib", "1.0.0", {"src/A.php": "<?php"}, {})
    upstream.add_advisory("up/lib", ">=1.0,<1.0.1", "Remote code execution in up/lib")
    upstream.add_advisory("acme/lib", "<99", "An advisory about the public twin")
    await mirror(broker, upstream.url)
    writer = (await broker.tokens.create("w", permission="write"))[1]
    await publish_private(client, writer, "acme/lib", "1.0.0")
    secret = (await broker.tokens.create("r"))[1]

    response, body = await client.request("GET", "/packages.json", headers=basic(secret))
    root = json.loads(body)
    assert root["security-advisories"] == {"metadata": False, "api-url": "http://broker.test/api/security-advisories/"}
    assert "available-packages" not in root  # any name may be mirrored on request
    scoped = (await broker.tokens.create("s", allowed_package_prefixes=["acme/"]))[1]
    _, body = await client.request("GET", "/packages.json", headers=basic(scoped))
    assert json.loads(body)["available-package-patterns"] == ["acme/*"]

    assert (await p2(client, secret, "up/lib"))[0] == 200
    operator = await AdvisoryStore(broker.ports.db, broker.clock).add(
        "acme/lib",
        {"title": "Operator's advisory", "affectedVersions": "<1.0.1", "sources": [], "reportedAt": "2024-05-01"},
    )
    query = "packages%5B0%5D=up%2Flib&packages%5B1%5D=acme%2Flib&packages%5B2%5D=psr%2Flog&updatedSince=0"
    response, body = await client.request(
        "POST",
        "/api/security-advisories/",
        headers={**basic(secret), "content-type": "application/x-www-form-urlencoded"},
        body=query.encode(),
    )
    assert response.status == 200, body
    found = json.loads(body)["advisories"]
    assert set(found) == {"up/lib", "acme/lib"}
    assert [a["title"] for a in found["up/lib"]] == ["Remote code execution in up/lib"]
    assert found["up/lib"][0]["affectedVersions"] == ">=1.0,<1.0.1"
    assert [a["advisoryId"] for a in found["acme/lib"]] == [operator.advisory_id]  # never the public twin's

    # Cached: a second query does not ask the upstream again.
    asked = upstream.asked("/api/security-advisories/")
    await client.request("GET", "/api/security-advisories/", query="packages[]=up/lib", headers=basic(secret))
    assert upstream.asked("/api/security-advisories/") == asked


def test_the_cli_adds_the_mirror_marks_vendors_private_shows_the_decision_and_records_advisories(
    tmp_path: Path, upstream: Packagist
) -> None:
    data = tmp_path / "cli"
    upstream.publish("up/lib", "1.0.0", {"src/A.php": "<?php"}, {})
    added = run_cli(data, "source", "add", "packagist", upstream.url, "--json")
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["sync"]["status"] == "ok"
    again = run_cli(data, "source", "add", "packagist")
    assert again.returncode == 1 and "already registered" in again.stderr
    assert run_cli(data, "source", "add", "git").returncode != 0  # other kinds still need their TARGET

    marked = run_cli(data, "vendor", "private", "acme")
    assert marked.returncode == 0 and "acme is private" in marked.stdout
    assert run_cli(data, "vendor", "list", "--json").stdout.strip() == '[\n  "acme"\n]'
    assert run_cli(data, "vendor", "private", "not a vendor").returncode == 1

    shown = run_cli(data, "package", "show", "acme/tool", "--json")
    assert shown.returncode == 1 and "not served here" in shown.stderr  # nothing mirrored, nothing private

    recorded = run_cli(
        data, "advisory", "add", "acme/lib", "--affected", ">=1.0,<1.2", "--title", "Leaks tokens", "--json"
    )
    assert recorded.returncode == 0, recorded.stderr
    advisory_id = json.loads(recorded.stdout)["id"]
    assert advisory_id.startswith("PKBSA-")
    assert (
        run_cli(data, "advisory", "add", "acme/lib", "--affected", "not a constraint!", "--title", "x").returncode == 1
    )
    assert "Leaks tokens" in run_cli(data, "advisory", "list").stdout
    assert run_cli(data, "advisory", "remove", advisory_id).returncode == 0
    assert run_cli(data, "advisory", "remove", advisory_id).returncode == 1


async def test_package_show_says_why_a_name_is_or_is_not_mirrored(
    broker: Broker, client: Client, upstream: Packagist
) -> None:
    from package_broker.runtimes.server.cli.mirror import shown_package

    upstream.publish("up/lib", "1.0.0", {"src/A.php": "<?php"}, {})
    upstream.publish("acme/lib", "9.0.0", {"src/A.php": "<?php"}, {})
    await mirror(broker, upstream.url)
    writer = (await broker.tokens.create("w", permission="write"))[1]
    await publish_private(client, writer, "acme/lib", "1.0.0")
    secret = (await broker.tokens.create("r"))[1]
    assert (await p2(client, secret, "up/lib"))[0] == 200

    detail, status = await shown_package(broker, "up/lib")
    assert detail is None and status.mirror and [f[:3] for f in status.files] == [("up/lib", "ok", 1)]
    detail, status = await shown_package(broker, "acme/lib")
    assert detail is not None and not status.mirror and "private source" in status.reason


async def test_a_github_token_is_stored_sealed_and_sent_only_to_api_github_com(broker: Broker) -> None:
    from package_broker.sources.context import SyncContext
    from package_broker.sources.lazy_mirror import Upstream, add_lazy_mirror

    token = "ghp_" + "A1b2C3d4" * 4 + "Zz99"
    added = await add_lazy_mirror(broker, "https://repo.packagist.org", token)
    assert added.credentials and token not in added.credentials
    source = await broker.mirror.store.source()
    assert source is not None
    upstream = Upstream(SyncContext.of(broker), source)
    assert await upstream._dist_headers("https://api.github.com/repos/a/b/zipball/1") == {
        "authorization": f"token {token}"
    }
    assert await upstream._dist_headers("https://codeload.github.com/a/b/legacy.zip/1") == {}
    assert await upstream._dist_headers("https://api.github.com.evil.example/x") == {}


async def test_a_mirror_never_synced_reads_the_root_file_once_on_its_first_miss(
    broker: Broker, client: Client, upstream: Packagist
) -> None:
    upstream.publish("up/a", "1.0.0", {"src/A.php": "<?php"}, {})
    upstream.publish("up/b", "1.0.0", {"src/A.php": "<?php"}, {})
    await broker.sources.add("packagist", upstream.url)  # no first sync
    secret = (await broker.tokens.create("r"))[1]
    assert (await p2(client, secret, "up/a"))[0] == 200
    assert (await p2(client, secret, "up/b"))[0] == 200
    assert [p for _, p in upstream.requests] == ["/packages.json", "/p2/up/a.json", "/p2/up/b.json"]


async def test_the_mirror_s_sql_runs_on_postgresql(tmp_path: Path, upstream: Packagist) -> None:
    from tests.contract.services import postgres_database

    upstream.publish("up/lib", "1.0.0", {"src/A.php": "<?php"}, {})
    upstream.publish("acme/tool", "1.0.0", {"src/A.php": "<?php"}, {})
    upstream.add_advisory("up/lib", "<2", "An advisory")
    with postgres_database() as url:
        opened = await open_broker(tmp_path, DB_DRIVER="postgresql", DB_URL=url)
        try:
            client = Client(App(opened))
            await mirror(opened, upstream.url)
            secret = (await opened.tokens.create("r"))[1]
            status, versions = await p2(client, secret, "up/lib")
            assert status == 200 and (await get(client, secret, versions["1.0.0"]["dist"]["url"]))[0] == 200
            assert (await p2(client, secret, "acme/tool"))[0] == 200
            assert await opened.mirror.store.mark_private("acme") == ["acme/tool"]
            opened.cache.forget()
            assert (await p2(client, secret, "acme/tool"))[0] == 404
            query = "packages[]=up/lib&packages[]=acme/tool"
            response, body = await client.request(
                "GET", "/api/security-advisories/", query=query, headers=basic(secret)
            )
            assert response.status == 200 and list(json.loads(body)["advisories"]) == ["up/lib"]
        finally:
            await opened.close()
