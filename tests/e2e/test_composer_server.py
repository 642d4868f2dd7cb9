"""Real `composer` clients against `package-broker serve`, with packages from real git repositories."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import BrokerServer, basic, require_tool
from tests.e2e.composer import KIT_FILES, Client, Project, lib_files, run_alias_check, run_scenario, visible, wait_until
from tests.e2e.providers import TOKEN as PROVIDER_TOKEN
from tests.e2e.providers import ProviderTarget, run_provider_check, start_fixture
from tests.helpers import Repo, git, make_zip

pytestmark = pytest.mark.e2e


class GitTarget:
    """Releases are commits and tags in local git repositories, synced with `package-broker sync`."""

    def __init__(self, server: BrokerServer, repos: Path) -> None:
        self.server = server
        self.url = server.url
        self.repos = repos
        self.known: dict[str, Repo] = {}

    def token(self, permission: str = "readonly") -> str:
        return self.server.token(permission)

    def release(self, name: str, version: str, files: dict[str, Any]) -> None:
        repo = self.known.get(name)
        first = repo is None
        if repo is None:
            repo = self.known[name] = Repo(self.repos / name.replace("/", "-"))
        repo.commit(files, f"release {version}")
        if not version.startswith("dev-"):
            repo.tag(version)
        if first:
            self.server.cli("source", "add", "git", str(repo.path))
        else:
            self.server.cli("sync")

    def withdraw(self, name: str, version: str) -> None:
        git(self.known[name].path, "tag", "-d", version)
        self.server.cli("sync")

    def requests(self) -> list[dict[str, Any]]:
        return self.server.requests()


@pytest.fixture(autouse=True)
def _tools() -> None:
    require_tool("php")
    require_tool("git")
    require_tool("unzip")


@pytest.mark.parametrize("transport", ["curl", "streams"])
def test_composer_installs_updates_and_revalidates(
    client: Client, server: BrokerServer, tmp_path: Path, transport: str
) -> None:
    run_scenario(GitTarget(server, tmp_path / "repos"), tmp_path, client, transport=transport)


def test_branch_aliases_resolve(client: Client, server: BrokerServer, tmp_path: Path) -> None:
    target = GitTarget(server, tmp_path / "repos")
    target.release("acme/lib", "v1.0.0", lib_files("lib 1.0"))
    target.release("acme/kit", "dev-main", KIT_FILES)
    run_alias_check(target, tmp_path, client)


def test_an_uploaded_zip_installs(client: Client, server: BrokerServer, tmp_path: Path) -> None:
    writer = server.token("write")
    archive = make_zip(
        {
            "zipped-1.2.0/composer.json": {
                "name": "acme/zipped",
                "version": "1.2.0",
                "autoload": {"psr-4": {"Acme\\Zipped\\": "src/"}},
            },
            "zipped-1.2.0/src/Z.php": "<?php\nnamespace Acme\\Zipped;\nfinal class Z { const V = 'zipped 1.2'; }\n",
        }
    )
    response = httpx.post(
        f"{server.url}/api/artifacts", content=archive, headers={**basic(writer), "content-type": "application/zip"}
    )
    assert response.status_code == 201, response.text
    target = GitTarget(server, tmp_path / "repos")
    secret = server.token("readonly")
    wait_until(lambda: visible(target, secret, "acme/zipped", "1.2.0"), "acme/zipped 1.2.0")
    project = Project(tmp_path / "zip-project", target, secret, client)
    project.write({"acme/zipped": "^1.2"})
    project.composer("install")
    assert project.php("echo \\Acme\\Zipped\\Z::V;") == "zipped 1.2"
    assert project.locked()["acme/zipped"]["dist"]["shasum"] == response.json()["shasum"]


def _provider_target(provider: str, server_factory: Any, tmp_path: Path) -> ProviderTarget:
    """Packages on a provider-shaped fixture (its API over real git repositories), added with `source add
    PROVIDER`, kept current by signed push webhooks only (SYNC_INTERVAL is a day: no scheduled sync runs)."""
    fixture, api_url = start_fixture(provider)
    # PRIVATE_UPSTREAMS=allow: a fixture plays e.g. api.github.com and codeload on 127.0.0.1 (two ports).
    server: BrokerServer = server_factory(
        provider, UPSTREAM_TOKEN=PROVIDER_TOKEN, SYNC_INTERVAL="86400", PRIVATE_UPSTREAMS="allow"
    )

    def add_source(path: str) -> tuple[str, str]:
        added = json.loads(
            server.cli(
                "source", "add", provider, path, "--token-env", "UPSTREAM_TOKEN", "--api-url", api_url, "--json"
            ).stdout
        )
        assert added["sync"]["status"] == "ok", added["sync"]
        assert added["webhook"]["url"].endswith(f"/webhooks/{provider}/{added['id']}")
        return added["id"], added["webhook"]["secret"]

    return ProviderTarget(
        server.url, tmp_path / "repos", fixture, add_source, server.token, server.requests, provider=provider
    )


@pytest.mark.parametrize("provider", ["gitlab", "bitbucket", "gitea"])
def test_composer_installs_from_each_provider_kind(
    client: Client, server_factory: Any, tmp_path: Path, provider: str
) -> None:
    target = _provider_target(provider, server_factory, tmp_path)
    try:
        run_provider_check(target, tmp_path, client)
    finally:
        target.fixture.stop()


def test_composer_installs_from_a_github_source_updated_by_webhooks(
    client: Client, server_factory: Any, tmp_path: Path
) -> None:
    """The whole scenario against a GitHub source, and a lock file still installs once GitHub is gone."""
    target = _provider_target("github", server_factory, tmp_path)
    fixture = target.fixture
    try:
        run_scenario(target, tmp_path, client)
        # The provider is gone: what was installed once installs again from the broker's own storage.
        fixture.stop()
        project = Project(tmp_path / "after", target, target.token(), client, home=tmp_path / "after-home")
        project.write({"acme/kit": "dev-main", "acme/lib": "^1.0"})
        project.composer("install")
        assert project.php("echo \\Acme\\Kit\\Kit::run();") == "kit+lib 1.0"
    finally:
        fixture.stop()


def test_composer_shows_the_rate_limit_warning(client: Client, server_factory: Any, tmp_path: Path) -> None:
    """A token over its hourly limit: composer fails and prints the broker's 429 warning."""
    server: BrokerServer = server_factory("limited", RATE_LIMIT="2")
    target = GitTarget(server, tmp_path / "repos")
    target.release("acme/lib", "v1.0.0", lib_files("lib 1.0"))
    project = Project(tmp_path / "limited", target, target.token(), client)
    project.write({"acme/lib": "^1.0"})
    # Composer 2.9+ waits out a 429 whose Retry-After is at most 60 s (CurlDownloader MAX_RETRY_AFTER), so a
    # 429 in the hour's last minute is waited out, the window turns over and the install rightly succeeds.
    # The 429 comes within seconds of the start: start at least 90 s before the hour's end.
    left = 3600 - time.time() % 3600
    if left < 90:
        time.sleep(left + 1)
    failed = project.composer("install", check=False)
    assert failed.returncode != 0
    assert "more than 2 requests this hour" in failed.stdout + failed.stderr, failed.stdout + failed.stderr
