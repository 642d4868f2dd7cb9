"""A write token created with --allow-prefix writes only within its prefixes, over real HTTP: it cannot
publish, replace or sync anything else, and no response it gets names anything outside its scope."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest

from tests.conftest import BrokerServer, basic
from tests.helpers import make_zip

SCOPE = "acme/plugin-"


def upload(server: BrokerServer, secret: str, name: str, version: str, body: str, query: str = "") -> httpx.Response:
    data = make_zip({"composer.json": {"name": name, "version": version}, "src/A.php": body})
    return httpx.post(
        f"{server.url}/api/artifacts{query}",
        content=data,
        headers={**basic(secret), "content-type": "application/zip"},
        timeout=60,
    )


@pytest.fixture
def scoped(server: BrokerServer) -> dict[str, Any]:
    """A broker serving globex/tool 1.0.0 and acme/plugin-seo 1.0.0, and a write token scoped to acme/plugin-."""
    admin = server.token("write")
    assert upload(server, admin, "globex/tool", "1.0.0", "<?php // globex").status_code == 201
    assert upload(server, admin, "acme/plugin-seo", "1.0.0", "<?php // seo").status_code == 201
    return {"admin": admin, "scoped": server.token("write", "--allow-prefix", SCOPE)}


def served(server: BrokerServer, secret: str, name: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{server.url}/p2/{name}.json", headers=basic(secret))
    assert response.status_code == 200
    return list(response.json()["packages"][name])


def test_a_scoped_write_token_publishes_within_its_prefixes(server: BrokerServer, scoped: dict[str, Any]) -> None:
    response = upload(server, scoped["scoped"], "acme/plugin-seo", "1.1.0", "<?php // 1.1")
    assert response.status_code == 201, response.text
    assert [v["version"] for v in served(server, scoped["admin"], "acme/plugin-seo")] == ["1.1.0", "1.0.0"]


@pytest.mark.parametrize(
    ("name", "query"),
    [
        ("globex/tool", ""),  # exists, other bytes: was a 409 naming it
        ("globex/tool", "?replace=1"),  # was replaced
        ("globex/new", ""),  # did not exist: was published
        ("acme/plugin", ""),  # a prefix of the scope is not in it
    ],
)
def test_a_scoped_write_token_cannot_publish_outside_its_prefixes(
    server: BrokerServer, scoped: dict[str, Any], name: str, query: str
) -> None:
    before = httpx.get(f"{server.url}/packages.json", headers=basic(scoped["admin"])).json()
    globex = served(server, scoped["admin"], "globex/tool")
    response = upload(server, scoped["scoped"], name, "1.0.0", "<?php // intruder", query)
    assert response.status_code == 403, response.text
    assert response.json()["reason"] == "forbidden"
    assert f"may not publish {name}" in response.json()["warning"] and SCOPE in response.json()["warning"]
    assert "already published" not in response.text and "globex/tool" not in response.text.replace(name, "")
    assert httpx.get(f"{server.url}/packages.json", headers=basic(scoped["admin"])).json() == before
    assert served(server, scoped["admin"], "globex/tool") == globex


def test_refusals_are_the_same_whether_or_not_the_name_exists(server: BrokerServer, scoped: dict[str, Any]) -> None:
    existing = upload(server, scoped["scoped"], "globex/tool", "1.0.0", "<?php // x").json()
    missing = upload(server, scoped["scoped"], "globex/ghost", "1.0.0", "<?php // x").json()
    assert existing == {**missing, "message": existing["message"], "warning": existing["warning"]}
    assert existing["warning"] == missing["warning"].replace("globex/ghost", "globex/tool")


def test_an_in_scope_conflict_names_no_source(server: BrokerServer, scoped: dict[str, Any]) -> None:
    response = upload(server, scoped["scoped"], "acme/plugin-seo", "1.0.0", "<?php // other bytes")
    assert response.status_code == 409 and "already published" in response.json()["warning"]
    assert "src_" not in response.text and "globex" not in response.text


def test_a_scoped_write_token_cannot_sync(server: BrokerServer, scoped: dict[str, Any]) -> None:
    response = httpx.post(f"{server.url}/api/sync", headers=basic(scoped["scoped"]), timeout=60)
    assert response.status_code == 403, response.text
    assert "without --allow-prefix" in response.json()["warning"]
    assert "src_" not in response.text and "globex" not in response.text
    pinned = httpx.post(f"{server.url}/api/sync?source=src_x", headers=basic(scoped["scoped"]), timeout=60)
    assert pinned.status_code == 403
    unscoped = httpx.post(f"{server.url}/api/sync", headers=basic(scoped["admin"]), timeout=60)
    assert unscoped.status_code == 200 and unscoped.json()["sources"]


def test_a_scoped_write_token_still_reads_only_its_scope(server: BrokerServer, scoped: dict[str, Any]) -> None:
    root = httpx.get(f"{server.url}/packages.json", headers=basic(scoped["scoped"])).json()
    assert root["available-packages"] == ["acme/plugin-seo"]
    (version,) = served(server, scoped["admin"], "globex/tool")
    dist = httpx.get(version["dist"]["url"], headers=basic(scoped["scoped"]))
    assert dist.status_code == 403 and hashlib.sha1(dist.content).hexdigest() != version["dist"]["shasum"]
