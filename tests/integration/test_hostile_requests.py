"""Hostile request bodies and queries against the core app (in-process, real SQLite): deeply nested JSON is
a 400, notify-batch counts only what is served and visible within bounded work, and search filters by the
token's scope before its limit."""

from __future__ import annotations

import io
import json
from dataclasses import replace

import pytest

from package_broker.artifacts.publish import publish_archive
from package_broker.broker import Broker
from package_broker.budget import Budget, spending
from package_broker.web.composer import MAX_REPORTED_DOWNLOADS
from tests.conftest import Client, basic
from tests.helpers import make_zip


async def publish(broker: Broker, name: str, version: str, description: str = "") -> None:
    manifest = {"name": name, "description": description or f"{name} package"}
    await publish_archive(broker, io.BytesIO(make_zip({"composer.json": manifest})), version=version)


async def downloads(broker: Broker) -> dict[tuple[str, str], int]:
    rows = await broker.ports.db.fetch_all("SELECT package, version_normalized, count FROM downloads")
    return {(row["package"], row["version_normalized"]): int(row["count"]) for row in rows}


def report(*pairs: tuple[str, str]) -> bytes:
    return json.dumps({"downloads": [{"name": n, "version": v} for n, v in pairs]}).encode()


# -- deeply nested JSON ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 60_000,
        b'{"downloads": ' + b"[" * 30_000 + b"]" * 30_000 + b"}",
        b'{"downloads": [{"name": "acme/lib", "version": "1", "x": ' + b'{"a": ' * 5_000 + b"1" + b"}" * 5_001 + b"]}",
        b'{"downloads": [], "n": ' + b"9" * 5_000 + b"}",  # longer than Python's int digit limit
        b"\xff\xfe not utf-8",
    ],
)
async def test_a_hostile_notify_body_is_a_400(broker: Broker, client: Client, body: bytes) -> None:
    _, secret = await broker.tokens.create("reader")
    response, data = await client.request("POST", "/downloads/", headers=basic(secret), body=body)
    assert response.status == 400, data
    assert b"Traceback" not in data and "downloads" in json.loads(data)["message"]


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        # Deeper than PHP's json_decode reads (Composer could not read it either): measured before parsing,
        # since in Pyodide json.loads would overflow the Wasm stack and kill the Worker's interpreter.
        ('{"name": "acme/deep", "version": "1.0.0", "extra": ' + "[" * 100_000, "more than 511 levels deep"),
        ('{"name": "acme/deep", "version": "1.0.0", "extra": {"a": ' + "[" * 600 + "]" * 600 + "}}", "511 levels"),
        # A number PHP reads as infinity, where Composer would keep it: it cannot be written back as JSON.
        ('{"name": "acme/deep", "version": "1.0.0", "extra": {"a": ' + "9" * 5_000 + "}}", "number too large"),
    ],
)
async def test_a_hostile_composer_json_is_a_400(broker: Broker, client: Client, manifest: str, message: str) -> None:
    _, secret = await broker.tokens.create("ci", permission="write")
    response, data = await client.request(
        "POST", "/api/artifacts", headers=basic(secret), body=make_zip({"composer.json": manifest})
    )
    assert response.status == 400, data
    assert message in json.loads(data)["warning"]


async def test_a_deep_but_readable_composer_json_is_published_as_composer_reads_it(
    broker: Broker, client: Client
) -> None:
    """500 levels: PHP's json_decode reads it (its limit is 512), so the broker does too."""
    _, secret = await broker.tokens.create("ci", permission="write")
    manifest = '{"name": "acme/deep", "version": "1.0.0", "extra": {"a": ' + "[" * 500 + "]" * 500 + "}}"
    response, data = await client.request(
        "POST", "/api/artifacts", headers=basic(secret), body=make_zip({"composer.json": manifest})
    )
    assert response.status == 201, data


# -- notify-batch ----------------------------------------------------------------------------------


async def test_notify_batch_counts_only_served_versions_the_token_may_see(broker: Broker, client: Client) -> None:
    await publish(broker, "acme/lib", "1.0.0")
    await publish(broker, "globex/tool", "2.0.0")
    _, scoped = await broker.tokens.create("reader", allowed_package_prefixes=["acme/"])
    body = report(
        ("acme/lib", "1.0.0.0"),
        ("acme/lib", "1.0.0.0"),  # twice in one report: one install
        ("ACME/LIB", "1.0.0.0"),
        ("acme/lib", "9.9.9.9"),  # not served
        ("acme/junk-1", "1.0.0.0"),  # not served
        ("globex/tool", "2.0.0.0"),  # served, but not to this token
        ("../x", "1"),
    )
    response, _ = await client.request("POST", "/downloads/", headers=basic(scoped), body=body)
    assert response.status == 200
    assert await downloads(broker) == {("acme/lib", "1.0.0.0"): 1}


async def test_junk_reports_write_nothing_in_one_round_trip(broker: Broker, client: Client) -> None:
    await publish(broker, "acme/lib", "1.0.0")
    _, secret = await broker.tokens.create("reader")
    await client.request("GET", "/packages.json", headers=basic(secret))  # token and generation remembered
    broker.cache._seconds = 60
    junk = [(f"acme/junk-{i}", f"{i}.0.0.0") for i in range(MAX_REPORTED_DOWNLOADS - 1)] + [("acme/lib", "1.0.0.0")]
    with spending(Budget()) as spent:
        response, _ = await client.request("POST", "/downloads/", headers=basic(secret), body=report(*junk))
    assert response.status == 200
    # One batch, however many entries (the rate count takes a place the first request's count reserved).
    assert spent.used_services == 1
    assert await downloads(broker) == {("acme/lib", "1.0.0.0"): 1}


async def test_a_report_listing_too_many_packages_is_refused(broker: Broker, client: Client) -> None:
    _, secret = await broker.tokens.create("reader")
    pairs = [(f"acme/p{i}", "1.0.0.0") for i in range(MAX_REPORTED_DOWNLOADS + 1)]
    response, data = await client.request("POST", "/downloads/", headers=basic(secret), body=report(*pairs))
    assert response.status == 413 and str(MAX_REPORTED_DOWNLOADS) in json.loads(data)["message"]
    assert await downloads(broker) == {}


# -- search ----------------------------------------------------------------------------------------


async def test_search_filters_by_scope_before_its_limit(broker: Broker, client: Client) -> None:
    for i in range(120):
        await publish(broker, f"globex/widget-{i:03d}", "1.0.0", "a widget")
    await publish(broker, "zeta/widget", "1.0.0", "a widget")
    await publish(broker, "zeta/other", "1.0.0", "not it")
    _, scoped = await broker.tokens.create("reader", allowed_package_prefixes=["zeta/", "globex/widget-11*"])
    response, data = await client.request("GET", "/search.json", query="q=widget", headers=basic(scoped))
    assert response.status == 200
    names = [r["name"] for r in json.loads(data)["results"]]
    assert names == [f"globex/widget-11{i}" for i in range(10)] + ["zeta/widget"]
    _, nothing = await broker.tokens.create("reader", allowed_package_prefixes=[])
    response, data = await client.request("GET", "/search.json", query="q=widget", headers=basic(nothing))
    assert json.loads(data)["results"] == []


async def test_search_prefixes_are_plain_text_not_patterns(broker: Broker, client: Client) -> None:
    await publish(broker, "acme/a_b", "1.0.0", "x")
    await publish(broker, "acme/axb", "1.0.0", "x")
    _, scoped = await broker.tokens.create("reader", allowed_package_prefixes=["acme/a_"])
    response, data = await client.request("GET", "/search.json", query="q=acme", headers=basic(scoped))
    assert [r["name"] for r in json.loads(data)["results"]] == ["acme/a_b"]


async def test_the_index_tells_composer_to_allow_plain_http_only_on_plain_http(broker: Broker, client: Client) -> None:
    response, body = await client.request("GET", "/", headers={"host": "broker.test"})
    assert response.status == 200
    assert json.loads(body)["composer"]["setup"][-1] == "composer config secure-http false"
    broker.settings = replace(broker.settings, base_url="https://composer.example.com")
    _, body = await client.request("GET", "/", headers={"host": "broker.test"})
    setup = json.loads(body)["composer"]["setup"]
    assert setup[0] == "composer config repositories.package-broker composer https://composer.example.com"
    assert not [line for line in setup if "secure-http" in line]
