"""The GitLab provider source against a GitLab-shaped API over real git repositories, through the real HTTP
client: listings across pages, files, dates, archives, the one-request no-change check, failures, rate limits,
group listings, webhooks."""

from __future__ import annotations

import json
import subprocess
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
from package_broker.sources.providers.gitlab import GITLAB, GitLabRepository
from package_broker.sources.providers.provider import Credentials, WebhookRefused
from package_broker.sources.vcs.repository import UpstreamState
from tests.fixtures.providers.base import GitData
from tests.fixtures.providers.gitlab import GitLabFixture
from tests.helpers import Repo, git, php_package

TOKEN = "glpat-fixtureToken0123456789"
PROJECT = "acme/php/lib"
ODD_FILE = "dir/with space é.txt"
MANY = 120


def commit_at(repo: Repo, files: dict[str, object], author: str, committer: str) -> str:
    """A commit with distinct author and committer dates (Composer's GitLab driver reports the committer's)."""
    for name, content in files.items():
        target = repo.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(content, indent=4) if isinstance(content, dict) else str(content))
    git(repo.path, "add", "-A")
    git(repo.path, "commit", "-q", "-m", "change", env={"GIT_AUTHOR_DATE": author, "GIT_COMMITTER_DATE": committer})
    return repo.head()


def make_refs(path: Path, prefix: str, commit: str, count: int) -> None:
    """`count` refs named `prefix<N>` on `commit`, in one git process (pagination without waiting)."""
    lines = "".join(f"create {prefix}{i} {commit}\n" for i in range(count))
    subprocess.run(["git", "-C", str(path), "update-ref", "--stdin"], input=lines.encode(), check=True)


@dataclass
class Built:
    repo: Repo
    base: str  # not the tip of any ref: its date needs a request
    first: str  # v1.0.0 (annotated), feature/x
    second: str  # v2.0.0, main


def build_repo(path: Path, name: str = "acme/lib") -> Built:
    repo = Repo(path)
    base = commit_at(repo, {"README": "hello\n"}, "2019-01-01T00:00:00+00:00", "2019-02-01T00:00:00+00:00")
    manifest = php_package(name, "Acme\\Lib")
    first = commit_at(
        repo,
        {"composer.json": manifest, "src/Lib.php": "<?php\n"},
        "2020-01-01T10:00:00+01:00",
        "2021-03-04T05:06:07-07:00",
    )
    repo.tag("v1.0.0", annotated=True)
    manifest = php_package(name, "Acme\\Lib", description="two")
    second = commit_at(
        repo, {"composer.json": manifest, ODD_FILE: "odd\n"}, "2022-01-01T00:00:00+00:00", "2022-05-06T07:08:09+02:00"
    )
    repo.tag("v2.0.0")
    git(path, "branch", "feature/x", first)
    return Built(repo, base, first, second)


def add_many(built: Built) -> None:
    """MANY more tags and 101 more branches: listings take two pages each (only where a test needs that)."""
    make_refs(built.repo.path, "refs/tags/v0.0.", built.first, MANY)
    make_refs(built.repo.path, "refs/heads/topic/", built.first, 101)


@dataclass
class Env:
    built: Built
    fixture: GitLabFixture
    http: HttpxHttpClient

    def api(self, state: UpstreamState | None = None, token: str = TOKEN) -> ProviderApi:
        return ProviderApi(
            self.http,
            provider="GitLab",
            base_url=self.fixture.api_url,
            auth=GITLAB.auth_headers(Credentials(token)),
            state=state if state is not None else UpstreamState(),
            guard=None,
            max_archive_bytes=10 * 1024 * 1024,
        )

    def repository(self, api: ProviderApi | None = None, clock: Callable[[], float] = time.time) -> GitLabRepository:
        return GitLabRepository(api or self.api(), PROJECT, clock=clock)


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    built = build_repo(tmp_path / "lib")
    fixture = GitLabFixture(token=TOKEN).start()
    fixture.add_repo(PROJECT, built.repo.path)
    http = HttpxHttpClient()
    try:
        yield Env(built, fixture, http)
    finally:
        await http.aclose()
        fixture.stop()


def expected_refs(path: Path) -> set[GitRef]:
    return {GitRef(r.name, r.kind, r.commit) for r in GitData(path).refs()}


async def test_listing_has_every_tag_and_branch_across_pages(env: Env) -> None:
    add_many(env.built)
    api = env.api()
    listing = await env.repository(api).listing()
    assert set(listing.refs) == expected_refs(env.built.repo.path)
    assert len(listing.refs) == MANY + 2 + 101 + 2
    assert GitRef("v1.0.0", "tag", env.built.first) in listing.refs  # annotated: peeled to the commit
    assert listing.default_branch == "main" and not listing.unchanged
    # events, project, tags (2 pages of 100), branches (2 pages)
    assert api.requests == 6


async def test_source_is_the_https_clone_url(env: Env) -> None:
    repository = env.repository()
    await repository.listing()
    assert repository.source == {"type": "git", "url": f"{env.fixture.url}/{PROJECT}.git"}
    assert env.repository(repository.api).source == repository.source  # kept in the state


async def test_files_at_a_commit(env: Env) -> None:
    repository = env.repository()
    files = await repository.read_files(
        [(env.built.first, "composer.json"), (env.built.second, ODD_FILE), (env.built.first, ODD_FILE)]
    )
    assert files[0] == GitData(env.built.repo.path).file(env.built.first, "composer.json")
    assert json.loads(files[0] or b"")["name"] == "acme/lib"
    assert files[1] == b"odd\n"
    assert files[2] is None


async def test_times_are_committer_dates_without_requests_for_listed_commits(env: Env) -> None:
    api = env.api()
    repository = env.repository(api)
    await repository.listing()
    before = api.requests
    data = GitData(env.built.repo.path)
    listed = [env.built.first, env.built.second]
    times = await repository.times(listed)
    assert times == {sha: data.commit_info(sha)["committer"]["time"] for sha in listed}  # type: ignore[index]
    assert api.requests == before
    unknown = "0" * 40
    times = await repository.times([env.built.base, unknown, "not-a-sha"])
    assert times == {env.built.base: data.commit_info(env.built.base)["committer"]["time"]}  # type: ignore[index]
    assert api.requests == before + 2  # the unlisted commit and the unknown one; nothing for a non-sha


async def test_archive_is_gitlabs_zip(env: Env) -> None:
    with await env.repository().archive(env.built.second) as blob:
        with zipfile.ZipFile(blob.file) as archive:
            names = archive.namelist()
            top = f"lib-{env.built.second}/"
            assert all(n.startswith(top) for n in names)
            assert json.loads(archive.read(top + "composer.json"))["description"] == "two"


async def test_an_unchanged_project_costs_one_request_and_a_push_is_seen(env: Env) -> None:
    state = UpstreamState()
    first = await env.repository(env.api(state)).listing()
    # The state goes through the database as JSON between syncs.
    state = UpstreamState(json.loads(json.dumps(state.values)))
    api = env.api(state)
    again = await env.repository(api).listing()
    assert again.unchanged and api.requests == 1
    assert set(again.refs) == set(first.refs) and again.default_branch == "main"
    assert not state.changed  # nothing to write back
    assert await env.repository(api).times([env.built.first]) != {}  # dates kept with the listing

    git(env.built.repo.path, "tag", "v3.0.0", env.built.base)
    api = env.api(state)
    after = await env.repository(api).listing()
    assert not after.unchanged and GitRef("v3.0.0", "tag", env.built.base) in after.refs
    api = env.api(state)
    assert (await env.repository(api).listing()).unchanged and api.requests == 1


async def test_a_deleted_tag_is_seen(env: Env) -> None:
    state = UpstreamState()
    await env.repository(env.api(state)).listing()
    git(env.built.repo.path, "tag", "-d", "v2.0.0")
    listing = await env.repository(env.api(state)).listing()
    assert not listing.unchanged and "v2.0.0" not in {r.name for r in listing.refs}


async def test_the_stored_listing_expires_after_a_day(env: Env) -> None:
    state = UpstreamState()
    await env.repository(env.api(state)).listing()
    api = env.api(state)
    listing = await env.repository(api, clock=lambda: time.time() + 25 * 3600).listing()
    assert not listing.unchanged and api.requests > 1


async def test_a_failed_listing_is_not_trusted_next_time(env: Env) -> None:
    state = UpstreamState()
    await env.repository(env.api(state)).listing()
    git(env.built.repo.path, "tag", "v3.0.0", env.built.base)
    env.fixture.fail(r"/repository/branches", "500")
    with pytest.raises(SourceError):
        await env.repository(env.api(state)).listing()
    listing = await env.repository(env.api(state)).listing()  # the events now answer 304: still re-listed
    assert not listing.unchanged and "v3.0.0" in {r.name for r in listing.refs}


async def test_wrong_token_is_a_source_error_without_the_token(env: Env) -> None:
    wrong = "glpat-wrongWrongWrong"
    with pytest.raises(SourceError) as caught:
        await env.repository(env.api(token=wrong)).listing()
    assert "credentials" in str(caught.value) and wrong not in str(caught.value) and TOKEN not in str(caught.value)


async def test_unknown_project_says_so(env: Env) -> None:
    with pytest.raises(SourceError, match="no project acme/nothing"):
        await GitLabRepository(env.api(), "acme/nothing").listing()


@pytest.mark.parametrize(
    ("pattern", "kind", "message"),
    [
        (r"/repository/tags", "500", "HTTP 500"),
        (r"/events", "502", "HTTP 502"),
        (r"/events", "badjson", "valid JSON"),
        (r"%2Flib$", "badjson", "valid JSON"),
    ],
)
async def test_upstream_failures_are_source_errors(env: Env, pattern: str, kind: str, message: str) -> None:
    env.fixture.fail(pattern, kind)
    with pytest.raises(SourceError, match=message):
        await env.repository().listing()


async def test_rate_limit_gives_the_time_to_come_back(env: Env) -> None:
    reset = int(time.time()) + 120
    env.fixture.limit_rate(0, reset)
    with pytest.raises(RateLimited) as caught:
        await env.repository().listing()
    assert reset - 2 <= caught.value.until <= reset + 2


async def test_a_next_page_on_another_origin_is_refused(env: Env) -> None:
    add_many(env.built)
    env.fixture.next_origin = "http://127.0.0.2:9"
    with pytest.raises(SourceError, match="refused"):
        await env.repository().listing()


async def test_list_repositories_of_a_group_and_of_a_user(env: Env, tmp_path: Path) -> None:
    other = build_repo(tmp_path / "other", "acme/other")
    env.fixture.add_repo("acme/other", other.repo.path)
    bare = Repo(tmp_path / "bare")
    bare.commit({"README": "no composer.json\n"})
    env.fixture.add_repo("acme/php/docs", bare.path)
    env.fixture.add_repo("jane/tool", other.repo.path)
    env.fixture.users.add("jane")
    api = env.api()
    assert sorted(await GITLAB.list_repositories(api, "acme")) == ["acme/other", PROJECT]
    assert await GITLAB.list_repositories(api, "acme/php") == [PROJECT]
    assert await GITLAB.list_repositories(api, "jane") == ["jane/tool"]
    with pytest.raises(InvalidInput):
        await GITLAB.list_repositories(api, "../etc")


def test_repository_urls_encode_the_full_path() -> None:
    url = GITLAB.repository_url("https://gitlab.example/api/v4/", "group/sub/my.lib")
    assert url == "https://gitlab.example/api/v4/projects/group%2Fsub%2Fmy%2Elib"
    for bad in ("lib", "group/", "../x/y", "a//b", "g/p?x=1", "g/-p", "g/p#x", "g/ p"):
        with pytest.raises(InvalidInput):
            GITLAB.repository_url("https://gitlab.com/api/v4", bad)


def test_credentials_go_as_a_bearer_token() -> None:
    assert GITLAB.auth_headers(Credentials("t0k")) == {"authorization": "Bearer t0k"}
    assert GITLAB.auth_headers(Credentials(None, "user", "pat")) == {"authorization": "Bearer pat"}
    assert GITLAB.auth_headers(Credentials()) == {}


def test_webhooks() -> None:
    secret = "whsec-0123456789"
    push = {"x-gitlab-token": secret, "x-gitlab-event": "Push Hook", "idempotency-key": "k-1"}
    assert GITLAB.verify_webhook(push, b"{}", secret).event == "push"
    assert GITLAB.verify_webhook(push, b"{}", secret).delivery == "k-1"
    tag = {
        "x-gitlab-token": secret,
        "x-gitlab-event": "Tag Push Hook",
        "x-gitlab-event-uuid": "e-1",
        "x-gitlab-webhook-uuid": "w-1",
    }
    call = GITLAB.verify_webhook(tag, b"{}", secret)
    assert call.event == "push" and call.delivery == "e-1/w-1/Tag Push Hook"
    issue = {"x-gitlab-token": secret, "x-gitlab-event": "Issue Hook"}
    assert GITLAB.verify_webhook(issue, b"{}", secret).event == "ping"
    for headers in ({**push, "x-gitlab-token": "whsec-wrong"}, {"x-gitlab-event": "Push Hook"}, {}):
        with pytest.raises(WebhookRefused) as caught:
            GITLAB.verify_webhook(headers, b"{}", secret)
        assert secret not in str(caught.value)
    with pytest.raises(WebhookRefused):
        GITLAB.verify_webhook({"x-gitlab-token": ""}, b"{}", "")
