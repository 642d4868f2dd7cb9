"""The Bitbucket Cloud provider source against a Bitbucket-shaped API over real git repositories, through the
real HTTP client: listings across pages, files, dates, archives from the web host, the one-request no-change
check, failures, rate limits, workspace listings, webhooks."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import zipfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from package_broker.errors import InvalidInput, SourceError
from package_broker.ports import GitRef
from package_broker.runtimes.server.httpx_client import HttpxHttpClient
from package_broker.sources.providers.api import ProviderApi, RateLimited
from package_broker.sources.providers.bitbucket import BITBUCKET, BitbucketRepository, web_origin
from package_broker.sources.providers.provider import Credentials, WebhookRefused
from package_broker.sources.vcs.repository import UpstreamState
from tests.fixtures.providers.base import GitData
from tests.fixtures.providers.bitbucket import BitbucketFixture
from tests.helpers import Repo, git
from tests.integration.providers.test_gitlab import MANY, ODD_FILE, Built, add_many, build_repo, expected_refs

USER, APP_PASSWORD = "deploy-bot", "ATBBfixture0123456789"
PATH = "acme/lib"


@dataclass
class Env:
    built: Built
    fixture: BitbucketFixture
    http: HttpxHttpClient

    def api(self, state: UpstreamState | None = None, password: str = APP_PASSWORD) -> ProviderApi:
        return ProviderApi(
            self.http,
            provider="Bitbucket",
            base_url=self.fixture.api_url,
            auth=BITBUCKET.auth_headers(Credentials(None, USER, password)),
            state=state if state is not None else UpstreamState(),
            guard=None,
            max_archive_bytes=10 * 1024 * 1024,
        )

    def repository(self, api: ProviderApi | None = None, clock: Callable[[], float] = time.time) -> BitbucketRepository:
        return BitbucketRepository(api or self.api(), PATH, clock=clock)


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    built = build_repo(tmp_path / "lib")
    fixture = BitbucketFixture(token=f"{USER}:{APP_PASSWORD}").start()
    fixture.add_repo(PATH, built.repo.path)
    http = HttpxHttpClient()
    try:
        yield Env(built, fixture, http)
    finally:
        await http.aclose()
        fixture.stop()


async def test_listing_has_every_tag_and_branch_across_pages(env: Env) -> None:
    add_many(env.built)
    api = env.api()
    listing = await env.repository(api).listing()
    assert set(listing.refs) == expected_refs(env.built.repo.path)
    assert len(listing.refs) == MANY + 2 + 101 + 2
    assert GitRef("v1.0.0", "tag", env.built.first) in listing.refs  # annotated: the commit, not the tag
    assert listing.default_branch == "main" and not listing.unchanged
    assert api.requests == 5  # repository, tags (2 pages of 100), branches (2 pages)
    # Only the fields read were asked for (Bitbucket's partial responses).
    assert all("fields=values.name" in p for p in env.fixture.paths() if "/refs/" in p)


async def test_source_is_the_https_clone_url_without_the_user(env: Env) -> None:
    repository = env.repository()
    await repository.listing()
    host = env.fixture.url.split("://")[1]
    assert repository.source == {"type": "git", "url": f"https://{host}/{PATH}.git"}


async def test_files_at_a_commit(env: Env) -> None:
    files = await env.repository().read_files(
        [(env.built.first, "composer.json"), (env.built.second, ODD_FILE), (env.built.first, ODD_FILE)]
    )
    assert files == [GitData(env.built.repo.path).file(env.built.first, "composer.json"), b"odd\n", None]


async def test_times_are_commit_dates_without_requests_for_listed_commits(env: Env) -> None:
    api = env.api()
    repository = env.repository(api)
    await repository.listing()
    before = api.requests
    data = GitData(env.built.repo.path)
    committed = {sha: data.commit_info(sha)["committer"]["time"] for sha in (env.built.first, env.built.second)}  # type: ignore[index]
    assert await repository.times(list(committed)) == committed
    assert api.requests == before
    base = env.built.base
    assert await repository.times([base, "0" * 40]) == {base: data.commit_info(base)["committer"]["time"]}  # type: ignore[index]
    assert api.requests == before + 2


async def test_archive_comes_from_the_web_host_with_the_credentials(env: Env) -> None:
    api = env.api()
    with await env.repository(api).archive(env.built.second) as blob:
        with zipfile.ZipFile(blob.file) as archive:
            top = f"acme-lib-{env.built.second[:12]}/"
            assert all(n.startswith(top) for n in archive.namelist())
            assert json.loads(archive.read(top + "composer.json"))["description"] == "two"
    assert env.fixture.paths()[-1] == f"/{PATH}/get/{env.built.second}.zip"
    assert api.requests == 1


def test_the_web_host_of_an_api_url() -> None:
    assert web_origin("https://api.bitbucket.org/2.0") == "https://bitbucket.org"
    assert web_origin("http://user@127.0.0.1:8080/2.0") == "http://127.0.0.1:8080"


async def test_an_unchanged_repository_costs_one_request_and_a_push_is_seen(env: Env) -> None:
    state = UpstreamState()
    first = await env.repository(env.api(state)).listing()
    state = UpstreamState(json.loads(json.dumps(state.values)))  # as the database keeps it
    api = env.api(state)
    again = await env.repository(api).listing()
    assert again.unchanged and api.requests == 1 and not state.changed
    assert set(again.refs) == set(first.refs) and again.default_branch == "main"

    git(env.built.repo.path, "tag", "v3.0.0", env.built.base)
    after = await env.repository(env.api(state)).listing()
    assert not after.unchanged and GitRef("v3.0.0", "tag", env.built.base) in after.refs
    api = env.api(state)
    assert (await env.repository(api).listing()).unchanged and api.requests == 1


async def test_a_stale_listing_is_read_again(env: Env) -> None:
    state = UpstreamState()
    await env.repository(env.api(state)).listing()
    api = env.api(state)
    listing = await env.repository(api, clock=lambda: time.time() + 25 * 3600).listing()
    assert not listing.unchanged and api.requests == 3  # the repository (unconditionally), tags, branches


async def test_a_failed_listing_is_not_trusted_next_time(env: Env) -> None:
    state = UpstreamState()
    await env.repository(env.api(state)).listing()
    git(env.built.repo.path, "tag", "v3.0.0", env.built.base)
    env.fixture.fail(r"/refs/branches", "500")
    with pytest.raises(SourceError):
        await env.repository(env.api(state)).listing()
    listing = await env.repository(env.api(state)).listing()
    assert not listing.unchanged and "v3.0.0" in {r.name for r in listing.refs}


async def test_an_access_token_goes_as_bearer(env: Env) -> None:
    env.fixture.token = "workspace-access-token"
    api = ProviderApi(
        env.http,
        provider="Bitbucket",
        base_url=env.fixture.api_url,
        auth=BITBUCKET.auth_headers(Credentials("workspace-access-token")),
        state=UpstreamState(),
        guard=None,
        max_archive_bytes=1024 * 1024,
    )
    assert (await env.repository(api).listing()).default_branch == "main"


async def test_wrong_credentials_are_a_source_error_without_them(env: Env) -> None:
    wrong = "ATBBwrongwrongwrong"
    with pytest.raises(SourceError) as caught:
        await env.repository(env.api(password=wrong)).listing()
    message = str(caught.value)
    assert "credentials" in message and wrong not in message and APP_PASSWORD not in message


async def test_unknown_repository_says_so(env: Env) -> None:
    with pytest.raises(SourceError, match="no repository acme/nothing"):
        await BitbucketRepository(env.api(), "acme/nothing").listing()


@pytest.mark.parametrize(
    ("pattern", "kind", "message"),
    [
        (r"/refs/tags", "500", "HTTP 500"),
        (r"/acme/lib$", "503", "HTTP 503"),
        (r"/acme/lib$", "badjson", "valid JSON"),
        (r"/refs/branches", "badjson", "valid JSON"),
    ],
)
async def test_upstream_failures_are_source_errors(env: Env, pattern: str, kind: str, message: str) -> None:
    env.fixture.fail(pattern, kind)
    with pytest.raises(SourceError, match=message):
        await env.repository().listing()


async def test_rate_limit_without_a_reset_time_waits_a_minute(env: Env) -> None:
    env.fixture.limit_rate(0)
    with pytest.raises(RateLimited) as caught:
        await env.repository().listing()
    assert time.time() + 55 <= caught.value.until <= time.time() + 65


async def test_a_next_page_on_another_origin_is_refused(env: Env) -> None:
    add_many(env.built)
    env.fixture.next_origin = "http://127.0.0.2:9"
    with pytest.raises(SourceError, match="refused"):
        await env.repository().listing()


async def test_list_repositories_of_a_workspace(env: Env, tmp_path: Path) -> None:
    other = build_repo(tmp_path / "other", "acme/other")
    env.fixture.add_repo("acme/other", other.repo.path)
    bare = Repo(tmp_path / "bare")
    bare.commit({"README": "no composer.json\n"})
    env.fixture.add_repo("acme/docs", bare.path)
    env.fixture.add_repo("elsewhere/tool", other.repo.path)
    api = env.api()
    assert sorted(await BITBUCKET.list_repositories(api, "acme")) == ["acme/lib", "acme/other"]
    with pytest.raises(InvalidInput):
        await BITBUCKET.list_repositories(api, "acme/lib")


def test_repository_urls_and_paths() -> None:
    assert BITBUCKET.repository_url("https://api.bitbucket.org/2.0/", "acme/my.lib") == (
        "https://api.bitbucket.org/2.0/repositories/acme/my.lib"
    )
    for bad in ("lib", "a/b/c", "../x", "a/..", "a/b?x", "a/b c", "a/"):
        with pytest.raises(InvalidInput):
            BITBUCKET.repository_url("https://api.bitbucket.org/2.0", bad)


def test_credentials() -> None:
    assert BITBUCKET.auth_headers(Credentials(None, "u", "p")) == {"authorization": "Basic dTpw"}
    assert BITBUCKET.auth_headers(Credentials("tok")) == {"authorization": "Bearer tok"}
    assert BITBUCKET.auth_headers(Credentials()) == {}


def test_webhooks() -> None:
    secret, body = "whsec-0123456789", b'{"push": {"changes": []}}'
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    push = {"x-hub-signature": signature, "x-event-key": "repo:push", "x-request-uuid": "r-1"}
    call = BITBUCKET.verify_webhook(push, body, secret)
    assert call.event == "push" and call.delivery == "r-1"
    assert BITBUCKET.verify_webhook({**push, "x-event-key": "diagnostics:ping"}, body, secret).event == "ping"
    assert BITBUCKET.verify_webhook({**push, "x-event-key": "pullrequest:created"}, body, secret).event == "ping"
    refused = [
        ({**push, "x-hub-signature": "sha256=" + "0" * 64}, body),
        (push, body + b" "),
        ({k: v for k, v in push.items() if k != "x-hub-signature"}, body),
        ({**push, "x-hub-signature": signature.removeprefix("sha256=")}, body),
    ]
    for headers, sent in refused:
        with pytest.raises(WebhookRefused) as caught:
            BITBUCKET.verify_webhook(headers, sent, secret)
        assert secret not in str(caught.value)
    with pytest.raises(WebhookRefused):
        BITBUCKET.verify_webhook(push, body, "")
