"""A package in a sub-directory of its repository (`--subdirectory`), from a plain git source and from a
provider source: its composer.json is read there, its dist is that directory alone (composer.json at the
top, attributes kept), and it has no `source` (a clone would be the whole repository)."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from package_broker.artifacts.subtree import check_subdirectory, subtree
from package_broker.broker import Broker
from package_broker.errors import InvalidArchive, InvalidInput
from package_broker.ports.blob import blob_of
from package_broker.sources.credentials import Credentials
from package_broker.sources.job import sync_source
from package_broker.sources.kinds import PROVIDERS
from package_broker.sources.providers.register import add_repository
from package_broker.web.app import App
from tests.conftest import Client, basic, open_broker
from tests.fixtures.providers.github import GitHubFixture
from tests.helpers import Repo, git, php_package

TOKEN = "ghp_monorepoFixtureToken0123456789"


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[Broker]:
    # PRIVATE_UPSTREAMS=allow: the fixture plays api.github.com and codeload on 127.0.0.1 (two ports).
    opened = await open_broker(tmp_path, PRIVATE_UPSTREAMS="allow")
    yield opened
    await opened.close()


@pytest.fixture
def mono(tmp_path: Path) -> Iterator[tuple[Repo, GitHubFixture]]:
    repo = Repo(tmp_path / "mono")
    repo.commit(
        {
            "README.md": "the monorepo",
            "packages/lib/composer.json": php_package("acme/mono-lib", "Acme\\MonoLib"),
            "packages/lib/src/Lib.php": "<?php // lib\n",
            "packages/lib/bin/run": "#!/bin/sh\necho run\n",
            "packages/tool/composer.json": php_package("acme/mono-tool", "Acme\\MonoTool"),
        }
    )
    git(repo.path, "update-index", "--chmod=+x", "packages/lib/bin/run")
    git(repo.path, "commit", "-q", "-m", "executable")
    repo.tag("v1.2.0")
    fixture = GitHubFixture(token=TOKEN).start()
    fixture.add_repo("acme/mono", repo.path)
    yield repo, fixture
    fixture.stop()


async def _dist(broker: Broker, name: str) -> tuple[dict[str, Any], zipfile.ZipFile]:
    client = Client(App(broker))
    _, secret = await broker.tokens.create("monorepo test")
    response, body = await client.request("GET", f"/p2/{name}.json", headers=basic(secret))
    assert response.status == 200, body
    (version,) = json.loads(body)["packages"][name]
    path = "/" + version["dist"]["url"].split("/", 3)[3]
    response, data = await client.request("GET", path, headers=basic(secret))
    assert response.status == 200
    raw = data if isinstance(data, bytes) else data.encode("latin-1")
    return version, zipfile.ZipFile(io.BytesIO(raw))


@pytest.mark.parametrize("kind", ["git", "github"])
async def test_a_monorepo_package_is_served_from_its_directory(
    broker: Broker, mono: tuple[Repo, GitHubFixture], kind: str
) -> None:
    repo, fixture = mono
    if kind == "git":
        source = await broker.sources.add("git", f"{repo.path}#packages/lib", None, {"subdirectory": "packages/lib"})
    else:
        added = await add_repository(
            broker,
            PROVIDERS["github"],
            "acme/mono",
            Credentials(TOKEN),
            api_url=fixture.url,
            subdirectory="packages/lib",
        )
        source = added.source
    report = await sync_source(broker, source)
    assert report.status == "ok", report.message
    assert report.package == "acme/mono-lib"

    version, archive = await _dist(broker, "acme/mono-lib")
    assert "source" not in version
    names = sorted(archive.namelist())
    assert names == ["bin/run", "composer.json", "src/Lib.php"]
    assert (archive.getinfo("bin/run").external_attr >> 16) & 0o111  # still executable
    assert version["dist"]["shasum"] == hashlib.sha1(archive.fp.getvalue()).hexdigest()  # type: ignore[union-attr]


async def test_two_packages_of_one_repository_are_two_sources(broker: Broker, mono: tuple[Repo, GitHubFixture]) -> None:
    repo, _ = mono
    for sub in ("packages/lib", "packages/tool"):
        source = await broker.sources.add("git", f"{repo.path}#{sub}", None, {"subdirectory": sub})
        assert (await sync_source(broker, source)).status == "ok"
    names, _ = await broker.catalog.names()
    assert {"acme/mono-lib", "acme/mono-tool"} <= set(names)


def test_a_subdirectory_is_a_plain_relative_path() -> None:
    assert check_subdirectory("/packages/lib/") == "packages/lib"
    for bad in ("", "../x", "a/../b", "a/./b", "a\\b", "a b"):
        with pytest.raises(InvalidInput):
            check_subdirectory(bad)


def test_nothing_under_the_directory_is_an_invalid_archive(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("acme-mono-1a2b3c4/README.md", "x")
    with pytest.raises(InvalidArchive, match="nothing under packages/lib/"):
        subtree(blob_of(buffer), "packages/lib")
