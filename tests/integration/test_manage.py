"""Managing what is served, as an operator does it with the real CLI next to a running server: list and
inspect packages, delete and hide versions (lock files keep installing), pause, edit and remove sources."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import BrokerServer, basic
from tests.helpers import Repo, make_zip, php_package


@pytest.fixture
def server(tmp_path: Path) -> Iterator[BrokerServer]:
    running = BrokerServer(tmp_path / "broker", extra_env={"MEMO_SECONDS": "0"}).start()  # changes show at once
    yield running
    running.stop()


def cli_json(server: BrokerServer, *args: str) -> Any:
    return json.loads(server.cli(*args, "--json").stdout)


def publish(server: BrokerServer, tmp_path: Path, name: str, version: str) -> None:
    archive = tmp_path / f"{name.replace('/', '-')}-{version}.zip"
    archive.write_bytes(make_zip({"composer.json": {"name": name, "version": version}, "src/A.php": version}))
    server.cli("publish", str(archive))


def versions(server: BrokerServer, secret: str, name: str) -> dict[str, dict[str, Any]]:
    response = httpx.get(f"{server.url}/p2/{name}.json", headers=basic(secret))
    if response.status_code == 404:
        return {}
    from package_broker.composer.minifier import expand

    return {v["version"]: v for v in expand(response.json()["packages"][name])}


def token(server: BrokerServer) -> str:
    return str(cli_json(server, "token", "create", "-d", "reader")["token"])


def test_uploaded_packages_are_listed_shown_and_deleted_and_lock_files_keep_installing(
    server: BrokerServer, tmp_path: Path
) -> None:
    for version in ("1.0.0", "1.1.0"):
        publish(server, tmp_path, "acme/tool", version)
    secret = token(server)
    [listed] = cli_json(server, "package", "list")
    assert (listed["name"], listed["source_kind"], listed["versions"]) == ("acme/tool", "artifact", 2)
    assert listed["modified_at"].endswith("+00:00")
    sources = cli_json(server, "source", "list")
    assert [s["packages"] for s in sources if s["kind"] == "artifact"] == [{"acme/tool": 2}]
    assert "serves acme/tool (2)" in server.cli("source", "list").stdout

    shown = cli_json(server, "package", "show", "acme/tool")
    assert [(v["version"], v["hidden"]) for v in shown["versions"]] == [("1.0.0", False), ("1.1.0", False)]
    assert all(v["dist_size"] > 0 for v in shown["versions"])
    old = versions(server, secret, "acme/tool")["1.0.0"]

    deleted = server.cli("package", "delete", "acme/tool", "1.0.0").stdout
    assert "deleted" in deleted and "composer.lock naming it still installs" in deleted
    assert set(versions(server, secret, "acme/tool")) == {"1.1.0"}
    # What an old composer.lock asks for: the dist URL it recorded still answers with the same bytes.
    dist = httpx.get(old["dist"]["url"], headers=basic(secret))
    assert dist.status_code == 200 and len(dist.content) == old["dist"].get("size", len(dist.content))

    newer = versions(server, secret, "acme/tool")["1.1.0"]
    purged = server.cli("package", "delete", "acme/tool", "1.1.0", "--purge").stdout
    assert "can no longer install" in purged
    assert httpx.get(newer["dist"]["url"], headers=basic(secret)).status_code == 404
    assert versions(server, secret, "acme/tool") == {}
    missing = server.cli("package", "show", "acme/nothing", check=False)
    assert missing.returncode == 1 and "not served here" in missing.stderr


def test_a_version_a_source_serves_is_hidden_until_restored_and_sources_are_paused_edited_removed(
    server: BrokerServer, tmp_path: Path
) -> None:
    repo = Repo(tmp_path / "lib")
    repo.commit({"composer.json": php_package("acme/lib", "Acme\\Lib"), "src/A.php": "<?php"})
    repo.tag("v1.0.0")
    repo.commit({"src/A.php": "<?php // 1.1"})
    repo.tag("v1.1.0")
    server.cli("source", "add", "git", str(repo.path))
    [source] = [s for s in cli_json(server, "source", "list") if s["kind"] == "git"]
    secret = token(server)
    assert {"v1.0.0", "v1.1.0"} <= set(versions(server, secret, "acme/lib"))

    conflict = server.cli("package", "delete", "acme/lib", check=False)
    assert conflict.returncode == 1 and "remove that source" in conflict.stderr
    assert "hidden" in server.cli("package", "delete", "acme/lib", "v1.0.0").stdout
    server.cli("sync")  # the source still has the tag: the hide holds
    assert "v1.0.0" not in versions(server, secret, "acme/lib")
    hidden = {v["version"]: v["hidden"] for v in cli_json(server, "package", "show", "acme/lib")["versions"]}
    assert hidden["v1.0.0"] is True and hidden["v1.1.0"] is False
    server.cli("package", "restore", "acme/lib", "v1.0.0")
    assert "v1.0.0" in versions(server, secret, "acme/lib")

    server.cli("source", "disable", source["id"])
    server.cli("source", "edit", source["id"], "--interval", "3600")
    shown = cli_json(server, "source", "show", source["id"])
    assert (shown["enabled"], shown["sync_interval"], shown["packages"]) == (False, 3600, ["acme/lib"])
    assert "disabled" in server.cli("source", "show", source["id"]).stdout
    refused = server.cli("source", "edit", source["id"], "--interval", "5", check=False)
    assert refused.returncode == 1 and "at least 60 seconds" in refused.stderr
    server.cli("source", "enable", source["id"])

    old = versions(server, secret, "acme/lib")["v1.1.0"]
    removed = server.cli("source", "remove", source["id"]).stdout
    assert "no longer served: acme/lib" in removed
    assert versions(server, secret, "acme/lib") == {}
    assert cli_json(server, "package", "list") == []
    assert httpx.get(old["dist"]["url"], headers=basic(secret)).status_code == 200
    uploads = server.cli("source", "remove", "src_uploads", check=False)
    assert uploads.returncode != 0
