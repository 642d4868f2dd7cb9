"""The GitHub provider source against a GitHub-shaped API over real git repositories, through the real HTTP
client: listings across pages, files, dates, archives via codeload, conditional re-listing, failures,
rate limits, webhooks."""

from __future__ import annotations

import hashlib
import hmac
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
from package_broker.sources.providers.github import GITHUB, GitHubRepository
from package_broker.sources.providers.provider import Credentials, WebhookRefused
from package_broker.sources.vcs.repository import UpstreamState
from tests.fixtures.providers.base import GitData
from tests.fixtures.providers.github import GitHubFixture
from tests.helpers import Repo, git, php_package

TOKEN = "ghp_fixtureToken0123456789abcdef"
#: A clock an hour ahead: listings taken "long after" the push, so the stored listing is trusted.
LATER: Callable[[], float] = lambda: time.time() + 3600  # noqa: E731
ODD_FILE = "dir/with space é.txt"
MANY = 120


@dataclass
class Env:
    repo: Repo
    fixture: GitHubFixture
    http: HttpxHttpClient
    first: str
    second: str

    def api(self, state: UpstreamState | None = None, token: str = TOKEN) -> ProviderApi:
        return ProviderApi(
            self.http,
            provider="GitHub",
            base_url=self.fixture.url,
            auth=GITHUB.auth_headers(Credentials(token)),
            state=state if state is not None else UpstreamState(),
            guard=None,
            max_archive_bytes=10 * 1024 * 1024,
        )

    def repository(self, api: ProviderApi | None = None, clock: Callable[[], float] = LATER) -> GitHubRepository:
        return GitHubRepository(api or self.api(), "acme/lib", clock=clock)


def make_repo(path: Path) -> tuple[Repo, str, str]:
    """main: two commits; v1.0.0 annotated on the first, MANY lightweight tags on it too (pagination),
    v2.0.0 on the second; branch feature/x on the first."""
    repo = Repo(path)
    first = repo.commit({"composer.json": php_package("acme/lib", "Acme\\Lib"), "src/Lib.php": "<?php\n"})
    repo.tag("v1.0.0", annotated=True)
    lines = "".join(f"create refs/tags/v0.0.{i} {first}\n" for i in range(MANY))
    subprocess.run(["git", "-C", str(path), "update-ref", "--stdin"], input=lines.encode(), check=True)
    second = repo.commit({"composer.json": php_package("acme/lib", "Acme\\Lib", description="two"), ODD_FILE: "odd\n"})
    repo.tag("v2.0.0")
    git(path, "branch", "feature/x", first)
    return repo, first, second


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    repo, first, second = make_repo(tmp_path / "lib")
    fixture = GitHubFixture(token=TOKEN).start()
    fixture.add_repo("acme/lib", repo.path)
    http = HttpxHttpClient()
    try:
        yield Env(repo, fixture, http, first, second)
    finally:
        await http.aclose()
        fixture.stop()


def as_set(refs: list[GitRef]) -> set[tuple[str, str, str]]:
    return {(r.name, r.kind, r.commit) for r in refs}


# -- listing ------------------------------------------------------------------------------------------------
async def test_lists_every_tag_and_branch_across_pages(env: Env) -> None:
    repository = GITHUB.repository(env.api(), "acme/lib")
    listing = await repository.listing()
    expected = {(r.name, r.kind, r.commit) for r in GitData(env.repo.path).refs()}
    assert as_set(listing.refs) == expected
    assert len([r for r in listing.refs if r.kind == "tag"]) == MANY + 2
    assert ("v1.0.0", "tag", env.first) in expected  # the annotated tag is peeled to its commit
    assert listing.default_branch == "main" and not listing.unchanged
    assert any("/tags?per_page=100&page=2" in p for p in env.fixture.paths())
    assert repository.source == {"type": "git", "url": "https://github.example/acme/lib.git"}


async def test_refs_of_odd_shapes_are_skipped(env: Env) -> None:
    env.fixture.junk_tags = [
        {"name": 5, "commit": {"sha": env.first}},
        {"name": "no-commit"},
        {"name": "null-commit", "commit": None},
        {"name": "short-sha", "commit": {"sha": "abc123"}},
        "not an object",
    ]
    listing = await env.repository().listing()
    names = {r.name for r in listing.refs}
    assert "v2.0.0" in names and not names & {"no-commit", "null-commit", "short-sha"}


async def test_unchanged_upstream_costs_one_request(env: Env) -> None:
    state = UpstreamState()
    first = await env.repository(env.api(state)).listing()
    api = env.api(state)
    before = len(env.fixture.requests)
    again = await env.repository(api).listing()
    assert again.unchanged and as_set(again.refs) == as_set(first.refs) and again.default_branch == "main"
    assert api.requests == 1 and len(env.fixture.requests) == before + 1
    assert "if-none-match" in env.fixture.requests[-1][2]  # answered 304

    env.fixture.stars += 1  # the document changes (new ETag) but nothing was pushed: still one request
    api = env.api(state)
    assert (await env.repository(api).listing()).unchanged and api.requests == 1

    del state.values["repo"]  # a 304 for a document no longer held: asked again without condition
    api = env.api(state)
    assert not (await env.repository(api).listing()).unchanged
    assert api.requests == 5 and "if-none-match" not in env.fixture.requests[-4][2]  # then 3 pages


async def test_a_new_tag_or_default_branch_is_listed_again(env: Env) -> None:
    state = UpstreamState()
    await env.repository(env.api(state)).listing()
    env.repo.tag("v3.0.0")
    listing = await env.repository(env.api(state)).listing()
    assert not listing.unchanged and ("v3.0.0", "tag", env.second) in as_set(listing.refs)

    git(env.repo.path, "symbolic-ref", "HEAD", "refs/heads/feature/x")
    listing = await env.repository(env.api(state)).listing()
    assert not listing.unchanged and listing.default_branch == "feature/x"


async def test_listings_right_after_a_push_or_older_than_a_day_are_not_trusted(env: Env) -> None:
    state = UpstreamState()
    await env.repository(env.api(state), clock=time.time).listing()  # within seconds of pushed_at
    assert not (await env.repository(env.api(state)).listing()).unchanged
    assert (await env.repository(env.api(state)).listing()).unchanged
    tomorrow = lambda: time.time() + 3600 + 25 * 3600  # noqa: E731
    assert not (await env.repository(env.api(state), clock=tomorrow).listing()).unchanged


# -- files, dates, archives ---------------------------------------------------------------------------------
async def test_reads_files_at_a_commit(env: Env) -> None:
    got = await env.repository().read_files(
        [
            (env.first, "composer.json"),
            (env.second, "composer.json"),
            (env.first, "missing.json"),
            (env.second, ODD_FILE),
            (env.first, ODD_FILE),
            (env.first, "../../orgs/acme/repos"),
        ]
    )
    data = GitData(env.repo.path)
    assert got == [
        data.file(env.first, "composer.json"),
        data.file(env.second, "composer.json"),
        None,
        b"odd\n",
        None,
        None,
    ]
    assert got[0] != got[1]


async def test_times_are_committer_times_dated_once(env: Env) -> None:
    git(env.repo.path, "checkout", "-q", "-b", "dated")
    git(
        env.repo.path,
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "dated",
        env={"GIT_AUTHOR_DATE": "2020-01-01T00:00:00+05:00", "GIT_COMMITTER_DATE": "2021-06-15T12:34:56-03:00"},
    )
    dated = env.repo.head()
    state = UpstreamState()
    api = env.api(state)
    times = await env.repository(api).times([dated, env.first, "not-a-sha"])
    committed = {c: int(git(env.repo.path, "log", "-1", "--format=%ct", c)) for c in (dated, env.first)}
    assert times == committed and times[dated] == 1623771296
    api = env.api(state)
    assert await env.repository(api).times([dated, env.first]) == committed
    assert api.requests == 0


async def test_archive_comes_from_codeload_without_the_token(env: Env) -> None:
    with await env.repository().archive(env.second) as blob:
        with zipfile.ZipFile(blob.file) as archive:
            names = archive.namelist()
            prefix = f"acme-lib-{env.second[:7]}/"
            assert f"{prefix}composer.json" in names and all(n.startswith(prefix) for n in names)
            assert archive.read(f"{prefix}composer.json") == GitData(env.repo.path).file(env.second, "composer.json")
        assert blob.size > 0
    ((_, path, headers),) = env.fixture.codeload.requests
    assert "authorization" not in headers and "token=" in path


# -- failures -----------------------------------------------------------------------------------------------
async def test_wrong_token_names_the_credentials_not_the_token(env: Env) -> None:
    with pytest.raises(SourceError) as caught:
        await env.repository(env.api(token="ghp_wrongToken987")).listing()
    message = str(caught.value)
    assert "credentials" in message and "ghp_wrongToken987" not in message and TOKEN not in message


async def test_unknown_repository(env: Env) -> None:
    with pytest.raises(SourceError, match="no repository acme/other"):
        await GitHubRepository(env.api(), "acme/other", clock=LATER).listing()


@pytest.mark.parametrize(("pattern", "kind", "says"), [(r"/tags", "500", "HTTP 500"), (r"/lib\Z", "badjson", "JSON")])
async def test_server_errors_and_bad_json(env: Env, pattern: str, kind: str, says: str) -> None:
    env.fixture.fail(pattern, kind)
    with pytest.raises(SourceError, match=says):
        await env.repository().listing()


async def test_rate_limit_stops_until_reset(env: Env) -> None:
    reset = int(time.time()) + 600
    env.fixture.limit_rate(0, reset)
    state = UpstreamState()
    with pytest.raises(RateLimited) as caught:
        await env.repository(env.api(state)).listing()
    assert caught.value.until == reset and state.get("rate_limited_until") == reset
    sent = len(env.fixture.requests)
    with pytest.raises(RateLimited):
        await env.repository(env.api(state)).listing()
    assert len(env.fixture.requests) == sent


async def test_pagination_to_another_origin_is_refused(env: Env) -> None:
    env.fixture.link_origin = "http://127.0.0.2:9"
    with pytest.raises(SourceError, match="refused"):
        await env.repository().listing()
    assert not any("127.0.0.2" in p for p in env.fixture.paths())


# -- organisation listing, names ----------------------------------------------------------------------------
async def test_lists_an_organisation_or_a_users_repositories_with_composer_json(env: Env, tmp_path: Path) -> None:
    tools = Repo(tmp_path / "tools")
    tools.commit({"README.md": "no composer.json here\n"})
    env.fixture.add_repo("acme/tools", tools.path)
    app = Repo(tmp_path / "app")
    app.commit({"composer.json": php_package("someone/app", "App")})
    env.fixture.add_repo("someone/app", app.path)
    env.fixture.users.add("someone")
    assert await GITHUB.list_repositories(env.api(), "acme") == ["acme/lib"]
    assert await GITHUB.list_repositories(env.api(), "someone") == ["someone/app"]
    assert "/users/someone/repos?per_page=100" in env.fixture.paths()
    with pytest.raises(SourceError, match="nobody"):
        await GITHUB.list_repositories(env.api(), "nobody")
    with pytest.raises(InvalidInput):
        await GITHUB.list_repositories(env.api(), "../x")


@pytest.mark.parametrize("path", ["acme", "acme/lib/x", "../lib", "acme/..", "a b/c", "acme/lib?x=1", "", "acme/"])
def test_repository_paths_are_validated(path: str) -> None:
    with pytest.raises(InvalidInput):
        GITHUB.repository_url("https://api.github.com", path)


def test_repository_url_and_auth_headers() -> None:
    assert GITHUB.repository_url("https://ghe.example/api/v3/", "acme/lib.php") == (
        "https://ghe.example/api/v3/repos/acme/lib.php"
    )
    headers = GITHUB.auth_headers(Credentials("secret-token"))
    assert headers["authorization"] == "Bearer secret-token" and "accept" not in headers
    assert "authorization" not in GITHUB.auth_headers(Credentials())


# -- webhooks -----------------------------------------------------------------------------------------------
SECRET = "webhook-secret-42"
BODY = b'{"ref": "refs/tags/v1.0.0", "after": "abc"}'


def signed(body: bytes, event: str, secret: str = SECRET) -> dict[str, str]:
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"x-hub-signature-256": signature, "x-github-event": event, "x-github-delivery": "72d3162e-cc78-11e3"}


@pytest.mark.parametrize(
    ("event", "meaning"), [("push", "push"), ("create", "push"), ("delete", "push"), ("ping", "ping"), ("star", "ping")]
)
def test_signed_webhooks_are_accepted(event: str, meaning: str) -> None:
    call = GITHUB.verify_webhook(signed(BODY, event), BODY, SECRET)
    assert call.event == meaning and call.delivery == "72d3162e-cc78-11e3"


@pytest.mark.parametrize(
    "headers",
    [
        {"x-github-event": "push"},
        signed(BODY, "push", secret="another-secret"),
        signed(BODY + b" ", "push"),
        {**signed(BODY, "push"), "x-hub-signature-256": "sha1=0123"},
        {**signed(BODY, "push"), "x-hub-signature-256": "sha256=é"},
    ],
)
def test_unsigned_or_wrongly_signed_webhooks_are_refused(headers: dict[str, str]) -> None:
    with pytest.raises(WebhookRefused) as caught:
        GITHUB.verify_webhook(headers, BODY, SECRET)
    assert SECRET not in str(caught.value)


def test_webhooks_need_a_secret_and_an_event() -> None:
    with pytest.raises(WebhookRefused, match="secret"):
        GITHUB.verify_webhook(signed(BODY, "push", secret=""), BODY, "")
    headers = signed(BODY, "push")
    del headers["x-github-event"]
    with pytest.raises(WebhookRefused, match="X-GitHub-Event|x-github-event"):
        GITHUB.verify_webhook(headers, BODY, SECRET)
