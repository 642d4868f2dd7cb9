"""Token grants by exact name and by prefix, on every route; the bare-vendor prefix; the dependency warning
of `token create`; `token list` and `token edit` through the real command line."""

from __future__ import annotations

import io
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from package_broker.artifacts.publish import publish_archive
from package_broker.broker import Broker
from package_broker.errors import InvalidInput
from package_broker.runtimes.server.bootstrap import build_broker, migrate
from package_broker.web.app import App
from tests.conftest import Client, basic
from tests.helpers import make_zip, run_cli

SERVED = ("acme/core", "acme/lib", "acme/lib-extra", "acmecorp/secret", "globex/tool")


async def publish(broker: Broker, name: str, version: str = "1.0.0") -> None:
    manifest = {"name": name, "description": f"{name} widget"}
    await publish_archive(broker, io.BytesIO(make_zip({"composer.json": manifest})), version=version)


@pytest.fixture
async def catalog(broker: Broker) -> Broker:
    for name in SERVED:
        await publish(broker, name)
    return broker


async def get_json(client: Client, path: str, secret: str, query: str = "") -> tuple[int, Any]:
    response, data = await client.request("GET", path, headers=basic(secret), query=query)
    return response.status, json.loads(data) if data else None


async def test_name_grants_and_prefixes_see_their_union_on_every_read_route(catalog: Broker, client: Client) -> None:
    _, admin = await catalog.tokens.create("admin")
    _, secret = await catalog.tokens.create(
        "mixed", allowed_packages=["acme/lib"], allowed_package_prefixes=["globex/"]
    )
    visible = ["acme/lib", "globex/tool"]

    status, root = await get_json(client, "/packages.json", secret)
    assert status == 200 and root["available-packages"] == visible
    for name in SERVED:
        status, p2 = await get_json(client, f"/p2/{name}.json", secret)
        assert status == (200 if name in visible else 403), name
        if name not in visible:  # the refusal names the token's grants, nothing else
            assert p2["reason"] == "forbidden" and "globex/, acme/lib" in p2["warning"]
        # a dist: the URL the admin token sees, asked for with the scoped token
        _, full = await get_json(client, f"/p2/{name}.json", admin)
        url = full["packages"][name][0]["dist"]["url"]
        response, _ = await client.request("GET", url.split("broker.test", 1)[1], headers=basic(secret))
        assert response.status == (200 if name in visible else 403), name
    status, listed = await get_json(client, "/list.json", secret)
    assert listed == {"packageNames": visible}
    status, found = await get_json(client, "/search.json", secret, "q=widget")
    assert [r["name"] for r in found["results"]] == visible

    report = json.dumps({"downloads": [{"name": n, "version": "1.0.0.0"} for n in SERVED]}).encode()
    response, _ = await client.request("POST", "/downloads/", headers=basic(secret), body=report)
    assert response.status == 200
    rows = await catalog.ports.db.fetch_all("SELECT package FROM downloads ORDER BY package")
    assert [row["package"] for row in rows] == visible


async def test_a_name_grant_is_exact(catalog: Broker, client: Client) -> None:
    _, secret = await catalog.tokens.create("one", allowed_packages=["acme/lib"])
    assert (await get_json(client, "/list.json", secret))[1] == {"packageNames": ["acme/lib"]}
    assert (await get_json(client, "/p2/acme/lib-extra.json", secret))[0] == 403
    assert (await get_json(client, "/p2/acme/lib~dev.json", secret))[0] == 200


async def test_search_with_more_grants_than_fit_in_one_query(catalog: Broker, client: Client) -> None:
    many = [f"zeta/pkg-{i:03d}" for i in range(120)]
    _, secret = await catalog.tokens.create("many", allowed_packages=[*many, "globex/tool", "acme/core"])
    status, found = await get_json(client, "/search.json", secret, "q=widget")
    assert status == 200 and [r["name"] for r in found["results"]] == ["acme/core", "globex/tool"]


async def test_a_write_token_publishes_only_what_it_is_granted(catalog: Broker, client: Client) -> None:
    _, secret = await catalog.tokens.create("ci", permission="write", allowed_packages=["acme/lib"])

    async def upload(name: str) -> int:
        body = make_zip({"composer.json": {"name": name}})
        headers = {**basic(secret), "content-type": "application/zip"}
        response, _ = await client.request("POST", "/api/artifacts", headers=headers, body=body, query="version=2.0.0")
        return response.status

    assert await upload("acme/lib") == 201
    assert await upload("acme/core") == 403
    assert await upload("acme/lib-extra") == 403
    response, data = await client.request("POST", "/api/sync", headers=basic(secret))
    assert response.status == 403 and "--allow-package" in json.loads(data)["warning"]


async def test_a_bare_vendor_prefix_is_refused_and_old_ones_keep_their_meaning(catalog: Broker, client: Client) -> None:
    with pytest.raises(InvalidInput, match="acme/ for every acme package"):
        await catalog.tokens.create("bare", allowed_package_prefixes=["acme"])
    made, secret = await catalog.tokens.create("vendor", allowed_package_prefixes=["acme/"])
    assert (await get_json(client, "/list.json", secret))[1]["packageNames"] == [
        "acme/core",
        "acme/lib",
        "acme/lib-extra",
    ]
    # A row stored before the rule (or by hand) keeps the plain-prefix meaning it always had.
    await catalog.ports.db.execute(
        "UPDATE tokens SET allowed_package_prefixes = ?, updated_at = updated_at + 1 WHERE id = ?",
        ('["acme"]', made.id),
    )
    catalog.cache.forget()
    names = (await get_json(client, "/list.json", secret))[1]["packageNames"]
    assert names == ["acme/core", "acme/lib", "acme/lib-extra", "acmecorp/secret"]


# -- the real command line -------------------------------------------------------------------------


def cli(data: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_cli(data, *args, **env)


def publish_zip(data: Path, tmp_path: Path, name: str, require: dict[str, str]) -> None:
    archive = tmp_path / f"{name.replace('/', '-')}.zip"
    archive.write_bytes(make_zip({"composer.json": {"name": name, "require": require}}))
    result = cli(data, "publish", str(archive), "--version", "1.0.0")
    assert result.returncode == 0, result.stderr


def create(data: Path, *args: str) -> tuple[dict[str, Any], str]:
    result = cli(data, "token", "create", "-d", "test", "--json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), result.stderr


def test_create_warns_about_served_requirements_the_token_cannot_see(tmp_path: Path) -> None:
    data = tmp_path / "data"
    publish_zip(data, tmp_path, "acme/core", {"php": ">=8.1", "acme/util": "^1"})
    publish_zip(data, tmp_path, "acme/util", {"php": ">=8.1"})
    publish_zip(data, tmp_path, "acme/app", {"php": ">=8.1", "ext-json": "*", "acme/core": "^1", "psr/log": "^3"})

    made, warning = create(data, "--allow-package", "acme/app")
    assert made["allowed_packages"] == ["acme/app"] and made["allowed_package_prefixes"] is None
    assert "acme/app requires acme/core, which this broker serves but" in warning
    assert "acme/core requires acme/util" in warning  # what acme/core needs, once granted, too
    assert f"package-broker token edit {made['id']} --allow-package acme/core --allow-package acme/util" in warning
    assert "psr/log" not in warning and "php" not in warning.replace("PHP", "") and "ext-json" not in warning

    same, warning = create(data, "--allow-prefix", "acme/app")
    assert "acme/app requires acme/core" in warning
    _, quiet = create(
        data, "--allow-package", "acme/app", "--allow-prefix", "acme/core", "--allow-package", "acme/util"
    )
    assert "warning" not in quiet
    _, everything = create(data)
    assert "warning" not in everything

    edited = cli(data, "token", "edit", made["id"], "--allow-package", "acme/core", "--allow-package", "acme/util")
    assert edited.returncode == 0 and "warning" not in edited.stderr, edited.stderr
    assert "grants: acme/app, acme/core, acme/util" in edited.stdout
    refused = cli(data, "token", "edit", same["id"], "--allow-prefix", "acme")
    assert refused.returncode == 1 and "use acme/ for every acme package" in refused.stderr


def test_a_bare_vendor_prefix_is_refused_on_the_command_line(tmp_path: Path) -> None:
    result = cli(tmp_path / "data", "token", "create", "-d", "x", "--allow-prefix", "acme")
    assert result.returncode == 1
    assert "would also match acmecorp/" in result.stderr and "acme/ for every acme package" in result.stderr
    assert "acme/plugin-" in result.stderr and "Traceback" not in result.stderr
    assert cli(tmp_path / "data", "token", "create", "-d", "x", "--allow-package", "acme/*").returncode == 1


async def use_token(data: Path, secret: str) -> None:
    """One real request with the token, through an in-process broker on the same DATA_DIR."""
    umask = os.umask(0o077)
    try:
        broker = await build_broker({"DATA_DIR": str(data), "MEMO_SECONDS": "0"})
    finally:
        os.umask(umask)
    try:
        await migrate(broker)
        response, _ = await Client(App(broker)).request("GET", "/packages.json", headers=basic(secret))
        assert response.status == 200
    finally:
        await broker.close()


def line_of(listing: str, token_id: str) -> str:
    [line] = [line for line in listing.splitlines() if line.startswith(token_id)]
    return line


async def test_list_shows_grants_rate_limit_expiry_and_last_use(tmp_path: Path) -> None:
    data = tmp_path / "data"
    scoped, _ = create(
        data, "--allow-prefix", "acme/plugin-", "--allow-package", "globex/tool", "--expires", "2099-06-30"
    )
    everything, _ = create(data, "--rate-limit", "250")
    assert everything["rate_limit"] == 250 and scoped["rate_limit"] is None
    await use_token(data, scoped["token"])

    listed = cli(data, "token", "list")
    assert listed.returncode == 0, listed.stderr
    header = listed.stdout.splitlines()[0].split()
    assert header[:6] == ["ID", "PREFIX", "PERMISSION", "STATE", "EXPIRES", "LAST"]
    assert {"RATE", "GRANTS", "DESCRIPTION"} <= set(header)
    first = line_of(listed.stdout, scoped["id"])
    assert "acme/plugin-, globex/tool" in first and "default (1000/h)" in first
    assert "2099-06-30 00:00 UTC" in first
    assert first.count("UTC") == 2  # the expiry and the last use, both with their time zone
    second = line_of(listed.stdout, everything["id"])
    assert "all packages" in second and "250/h" in second and " - " in second  # never expires, never used
    assert scoped["token"] not in listed.stdout

    as_json = {t["id"]: t for t in json.loads(cli(data, "token", "list", "--json").stdout)}
    mine = as_json[scoped["id"]]
    assert mine["allowed_package_prefixes"] == ["acme/plugin-"] and mine["allowed_packages"] == ["globex/tool"]
    assert mine["last_used_at"] is not None and mine["expires_at"].startswith("2099-06-30T00:00:00")
    assert "token" not in mine

    with_setting = cli(data, "token", "list", RATE_LIMIT="500")
    assert "default (500/h)" in line_of(with_setting.stdout, scoped["id"])


def test_edit_sets_the_rate_limit_to_unlimited_a_number_and_back_to_the_default(tmp_path: Path) -> None:
    data = tmp_path / "data"
    made, _ = create(data)

    def limit_after(*args: str) -> tuple[Any, str]:
        result = cli(data, "token", "edit", made["id"], *args)
        assert result.returncode == 0, result.stderr
        listed = cli(data, "token", "list")
        stored = {t["id"]: t for t in json.loads(cli(data, "token", "list", "--json").stdout)}[made["id"]]
        return stored["rate_limit"], line_of(listed.stdout, made["id"])

    value, line = limit_after("--rate-limit", "0")
    assert value == 0 and "unlimited" in line
    value, line = limit_after("--rate-limit", "5000")
    assert value == 5000 and "5000/h" in line
    value, line = limit_after("--rate-limit", "default", "--expires", "30d")
    assert value is None and "default (1000/h)" in line and line.count("UTC") == 1
    value, line = limit_after("--expires", "never")
    assert value is None and "UTC" not in line

    for bad in ("-1", "lots"):
        refused = cli(data, "token", "edit", made["id"], "--rate-limit", bad)
        assert refused.returncode == 2 and "--rate-limit" in refused.stderr
    assert cli(data, "token", "edit", made["id"]).returncode == 1  # nothing to change
    missing = cli(data, "token", "edit", "tok_missing", "--rate-limit", "1")
    assert missing.returncode == 1 and "no token with id tok_missing" in missing.stderr
    narrowing = cli(data, "token", "edit", made["id"], "--allow-package", "acme/lib")
    assert narrowing.returncode == 1 and "already sees every package" in narrowing.stderr


def test_edit_sql_for_the_worker(tmp_path: Path) -> None:
    result = cli(tmp_path / "data", "token", "edit", "tok_0123456789ab", "--rate-limit", "0", "--sql")
    assert result.returncode == 0, result.stderr
    assert "UPDATE tokens SET rate_limit = 0, updated_at = " in result.stdout
    assert "WHERE id = 'tok_0123456789ab';" in result.stdout and "wrangler d1 execute" in result.stderr
    created = cli(tmp_path / "data", "token", "create", "-d", "w", "--allow-package", "acme/lib", "--sql")
    assert created.returncode == 0 and "'[\"acme/lib\"]'" in created.stdout
