"""The Gitea/Forgejo provider source against a Gitea-shaped API over real git repositories, through the real
HTTP client (the same repository as the GitHub tests: 122 tags, so three pages of 50)."""

from __future__ import annotations

import hashlib
import hmac
import time
import zipfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from package_broker.errors import InvalidInput, SourceError
from package_broker.runtimes.server.httpx_client import HttpxHttpClient
from package_broker.sources.providers.api import ProviderApi, RateLimited
from package_broker.sources.providers.gitea import GITEA, GiteaRepository
from package_broker.sources.providers.provider import Credentials, WebhookRefused
from package_broker.sources.vcs.repository import UpstreamState
from tests.fixtures.providers.base import GitData
from tests.fixtures.providers.gitea import GiteaFixture
from tests.helpers import Repo, git, php_package
from tests.integration.providers.test_github import LATER, MANY, ODD_FILE, as_set, make_repo

TOKEN = "gitea-fixture-token-0123456789"


@dataclass
class Env:
    repo: Repo
    fixture: GiteaFixture
    http: HttpxHttpClient
    first: str
    second: str

    def api(self, state: UpstreamState | None = None, token: str = TOKEN) -> ProviderApi:
        return ProviderApi(
            self.http,
            provider="Gitea",
            base_url=self.fixture.api_url,
            auth=GITEA.auth_headers(Credentials(token)),
            state=state if state is not None else UpstreamState(),
            guard=None,
            max_archive_bytes=10 * 1024 * 1024,
        )

    def repository(self, api: ProviderApi | None = None, clock: Callable[[], float] = LATER) -> GiteaRepository:
        return GiteaRepository(api or self.api(), "acme/lib", clock=clock)


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    repo, first, second = make_repo(tmp_path / "lib")
    fixture = GiteaFixture(token=TOKEN).start()
    fixture.add_repo("acme/lib", repo.path)
    http = HttpxHttpClient()
    try:
        yield Env(repo, fixture, http, first, second)
    finally:
        await http.aclose()
        fixture.stop()


# -- listing ------------------------------------------------------------------------------------------------
async def test_lists_every_tag_and_branch_across_pages(env: Env) -> None:
    repository = GITEA.repository(env.api(), "acme/lib")
    listing = await repository.listing()
    assert as_set(listing.refs) == {(r.name, r.kind, r.commit) for r in GitData(env.repo.path).refs()}
    assert ("v1.0.0", "tag", env.first) in as_set(listing.refs)  # annotated: peeled to its commit
    assert ("feature/x", "branch", env.first) in as_set(listing.refs)
    assert len([r for r in listing.refs if r.kind == "tag"]) == MANY + 2
    assert listing.default_branch == "main" and not listing.unchanged
    assert sum("/tags?limit=50" in p for p in env.fixture.paths()) == 3
    assert repository.source == {"type": "git", "url": "https://gitea.example/acme/lib.git"}
    (_, _, headers), *_ = env.fixture.requests
    assert headers["authorization"] == f"token {TOKEN}"


async def test_refs_of_odd_shapes_are_skipped(env: Env) -> None:
    env.fixture.junk_tags = [{"name": "no-commit"}, {"name": "sha-not-id", "commit": {"id": env.first}}, [1, 2]]
    names = {r.name for r in (await env.repository().listing()).refs}
    assert "v2.0.0" in names and not names & {"no-commit", "sha-not-id"}


async def test_unchanged_upstream_costs_one_request_until_a_push(env: Env) -> None:
    state = UpstreamState()
    first = await env.repository(env.api(state)).listing()
    api = env.api(state)
    again = await env.repository(api).listing()
    assert again.unchanged and as_set(again.refs) == as_set(first.refs) and api.requests == 1

    env.repo.tag("v3.0.0")
    listing = await env.repository(env.api(state)).listing()
    assert not listing.unchanged and ("v3.0.0", "tag", env.second) in as_set(listing.refs)

    git(env.repo.path, "symbolic-ref", "HEAD", "refs/heads/feature/x")
    listing = await env.repository(env.api(state)).listing()
    assert not listing.unchanged and listing.default_branch == "feature/x"


async def test_a_listing_right_after_a_push_is_taken_again(env: Env) -> None:
    state = UpstreamState()
    await env.repository(env.api(state), clock=time.time).listing()
    assert not (await env.repository(env.api(state)).listing()).unchanged
    assert (await env.repository(env.api(state)).listing()).unchanged


# -- files, dates, archives ---------------------------------------------------------------------------------
async def test_reads_files_at_a_commit(env: Env) -> None:
    got = await env.repository().read_files(
        [(env.first, "composer.json"), (env.first, "missing.json"), (env.second, ODD_FILE), (env.first, "a/../b")]
    )
    assert got == [GitData(env.repo.path).file(env.first, "composer.json"), None, b"odd\n", None]


async def test_times_are_committer_times_and_unknown_commits_left_out(env: Env) -> None:
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
    times = await env.repository(env.api(state)).times([dated, env.first, "0" * 40])
    assert times == {c: int(git(env.repo.path, "log", "-1", "--format=%ct", c)) for c in (dated, env.first)}
    assert times[dated] == 1623771296
    assert any("/git/commits/" in p and "verification=false" in p for p in env.fixture.paths())
    api = env.api(state)
    assert await env.repository(api).times([dated]) == {dated: 1623771296} and api.requests == 0


async def test_archive_is_a_zip_under_the_repository_name(env: Env) -> None:
    with await env.repository().archive(env.first) as blob, zipfile.ZipFile(blob.file) as archive:
        assert "lib/composer.json" in archive.namelist()
        assert all(name.startswith("lib/") for name in archive.namelist())
    assert env.fixture.paths()[-1] == f"/api/v1/repos/acme/lib/archive/{env.first}.zip"


# -- failures -----------------------------------------------------------------------------------------------
async def test_wrong_token_names_the_credentials_not_the_token(env: Env) -> None:
    with pytest.raises(SourceError) as caught:
        await env.repository(env.api(token="wrong-gitea-token")).listing()
    message = str(caught.value)
    assert "credentials" in message and "wrong-gitea-token" not in message and TOKEN not in message


@pytest.mark.parametrize(
    ("pattern", "kind", "says"), [(r"/branches", "502", "HTTP 502"), (r"/lib\Z", "badjson", "JSON")]
)
async def test_server_errors_and_bad_json(env: Env, pattern: str, kind: str, says: str) -> None:
    env.fixture.fail(pattern, kind)
    with pytest.raises(SourceError, match=says):
        await env.repository().listing()


async def test_429_stops_until_retry_after(env: Env) -> None:
    env.fixture.limit_rate(0, int(time.time()) + 120)
    state = UpstreamState()
    with pytest.raises(RateLimited) as caught:
        await env.repository(env.api(state)).listing()
    assert abs(caught.value.until - (time.time() + 120)) <= 3
    sent = len(env.fixture.requests)
    with pytest.raises(RateLimited):
        await env.repository(env.api(state)).read_files([(env.first, "composer.json")])
    assert len(env.fixture.requests) == sent


async def test_pagination_to_another_origin_is_refused(env: Env) -> None:
    env.fixture.link_origin = "http://gitea.elsewhere.example"
    with pytest.raises(SourceError, match="refused"):
        await env.repository().listing()


# -- organisation listing, names ----------------------------------------------------------------------------
async def test_lists_an_organisation_or_a_users_repositories_with_composer_json(env: Env, tmp_path: Path) -> None:
    tools = Repo(tmp_path / "tools")
    tools.commit({"README.md": "no composer.json here\n"})
    env.fixture.add_repo("acme/tools", tools.path)
    Repo(tmp_path / "empty")
    env.fixture.add_repo("acme/empty", tmp_path / "empty")
    app = Repo(tmp_path / "app")
    app.commit({"composer.json": php_package("someone/app", "App")})
    env.fixture.add_repo("someone/app", app.path)
    env.fixture.users.add("someone")
    assert await GITEA.list_repositories(env.api(), "acme") == ["acme/lib"]
    assert await GITEA.list_repositories(env.api(), "someone") == ["someone/app"]
    with pytest.raises(SourceError, match="nobody"):
        await GITEA.list_repositories(env.api(), "nobody")


def test_repository_url_and_paths() -> None:
    assert GITEA.default_api_url is None
    assert GITEA.repository_url("https://git.example.com/api/v1", "acme/lib") == (
        "https://git.example.com/api/v1/repos/acme/lib"
    )
    for path in ("acme", "acme/lib/x", "acme/..", "acme/lib#x"):
        with pytest.raises(InvalidInput):
            GITEA.repository_url("https://git.example.com/api/v1", path)


# -- webhooks -----------------------------------------------------------------------------------------------
SECRET = "gitea-hook-secret"
BODY = b'{"ref": "refs/heads/main", "after": "bffeb74224043ba2feb48d137756c8a9331c449a"}'


def signature(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.mark.parametrize(("event", "meaning"), [("push", "push"), ("create", "push"), ("issues", "ping")])
def test_signed_webhooks_are_accepted(event: str, meaning: str) -> None:
    headers = {"x-gitea-signature": signature(BODY), "x-gitea-event": event, "x-gitea-delivery": "f6266f16-1bf3"}
    call = GITEA.verify_webhook(headers, BODY, SECRET)
    assert call.event == meaning and call.delivery == "f6266f16-1bf3"


def test_forgejo_headers_come_first() -> None:
    good, bad = signature(BODY), signature(BODY, "other")
    forgejo = {"x-forgejo-signature": good, "x-forgejo-event": "push", "x-forgejo-delivery": "d1"}
    assert GITEA.verify_webhook({**forgejo, "x-gitea-signature": bad}, BODY, SECRET).delivery == "d1"
    with pytest.raises(WebhookRefused):  # a wrong Forgejo signature is not rescued by a right Gitea one
        GITEA.verify_webhook({**forgejo, "x-forgejo-signature": bad, "x-gitea-signature": good}, BODY, SECRET)


@pytest.mark.parametrize(
    "headers",
    [
        {"x-gitea-event": "push"},
        {"x-gitea-event": "push", "x-gitea-signature": signature(BODY, "other")},
        {"x-gitea-event": "push", "x-gitea-signature": "sha256=" + signature(BODY)},
        {"x-gitea-event": "push", "x-gitea-signature": signature(BODY + b"x")},
    ],
)
def test_unsigned_or_wrongly_signed_webhooks_are_refused(headers: dict[str, str]) -> None:
    with pytest.raises(WebhookRefused) as caught:
        GITEA.verify_webhook(headers, BODY, SECRET)
    assert SECRET not in str(caught.value)
