"""A release target for the end-to-end scenario where packages live on a provider (a GitHub-, GitLab-,
Bitbucket- or Gitea-shaped fixture over real git repositories): a release is a commit and a tag pushed
there, and the broker learns of it from a signed push webhook, as it would from the provider. Shared by the
server and Worker suites."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.composer import Client, Project, lib_files, visible, wait_until
from tests.fixtures.providers.base import ProviderFixture
from tests.fixtures.providers.bitbucket import BitbucketFixture
from tests.fixtures.providers.gitea import GiteaFixture
from tests.fixtures.providers.github import GitHubFixture
from tests.fixtures.providers.gitlab import GitLabFixture
from tests.helpers import Repo, git

TOKEN = "ghp_e2eFixtureToken0123456789abcdef"


def _hmac(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# How each provider signs a push webhook, written from the providers' documentation.
SIGNERS: dict[str, Callable[[str, bytes], dict[str, str]]] = {
    "github": lambda secret, body: {
        "x-github-event": "push",
        "x-github-delivery": str(uuid.uuid4()),
        "x-hub-signature-256": "sha256=" + _hmac(secret, body),
    },
    "gitlab": lambda secret, body: {
        "x-gitlab-event": "Tag Push Hook",
        "x-gitlab-token": secret,
        "idempotency-key": str(uuid.uuid4()),
    },
    "bitbucket": lambda secret, body: {
        "x-event-key": "repo:push",
        "x-request-uuid": "{" + str(uuid.uuid4()) + "}",
        "x-hub-signature": "sha256=" + _hmac(secret, body),
    },
    "gitea": lambda secret, body: {
        "x-gitea-event": "push",
        "x-gitea-delivery": str(uuid.uuid4()),
        "x-gitea-signature": _hmac(secret, body),
    },
}
#: The fixture that plays each provider, and where its API is.
FIXTURES: dict[str, tuple[type[ProviderFixture], Callable[[Any], str]]] = {
    "github": (GitHubFixture, lambda f: f.url),
    "gitlab": (GitLabFixture, lambda f: f.api_url),
    "bitbucket": (BitbucketFixture, lambda f: f.api_url),
    "gitea": (GiteaFixture, lambda f: f.api_url),
}


def start_fixture(provider: str) -> tuple[Any, str]:
    """A started fixture for `provider` (accepting TOKEN) and its API URL."""
    kind, api_url = FIXTURES[provider]
    fixture = kind(token=TOKEN).start()
    return fixture, api_url(fixture)


def signed_push(url: str, secret: str, payload: dict[str, Any], *, provider: str = "github") -> httpx.Response:
    """POST a push webhook the way `provider` signs it."""
    body = json.dumps(payload).encode()
    headers = {"content-type": "application/json", **SIGNERS[provider](secret, body)}
    return httpx.post(url, content=body, headers=headers, timeout=30)


class ProviderTarget:
    """`release`/`withdraw` push to the fixture's repositories; the first release of a package adds it as a
    github source (`add_source(path) -> (source id, webhook secret)`), later ones send its webhook."""

    def __init__(
        self,
        url: str,
        repos: Path,
        fixture: ProviderFixture,
        add_source: Callable[[str], tuple[str, str]],
        token: Callable[[str], str],
        requests: Callable[[], list[dict[str, Any]]],
        provider: str = "github",
    ) -> None:
        self.provider = provider
        self.url = url
        self.repos = repos
        self.fixture = fixture
        self._add_source = add_source
        self._token = token
        self._requests = requests
        self.known: dict[str, Repo] = {}
        self.hooks: dict[str, tuple[str, str]] = {}
        #: Answers of every webhook call sent.
        self.answers: list[httpx.Response] = []

    def token(self, permission: str = "readonly") -> str:
        return self._token(permission)

    def requests(self) -> list[dict[str, Any]]:
        return self._requests()

    def release(self, name: str, version: str, files: dict[str, Any]) -> None:
        repo = self.known.get(name)
        if repo is None:
            repo = self.known[name] = Repo(self.repos / name.replace("/", "-"))
            self.fixture.add_repo(name, repo.path)
        repo.commit(files, f"release {version}")
        if not version.startswith("dev-"):
            repo.tag(version)
        if name not in self.hooks:
            self.hooks[name] = self._add_source(name)
        else:
            self.push(name, f"refs/tags/{version}" if not version.startswith("dev-") else "refs/heads/main")

    def withdraw(self, name: str, version: str) -> None:
        before = git(self.known[name].path, "rev-parse", f"{version}^{{commit}}")
        git(self.known[name].path, "tag", "-d", version)
        self.push(name, f"refs/tags/{version}", before=before, deleted=True)

    def push(self, name: str, ref: str, *, before: str = "0" * 40, deleted: bool = False) -> None:
        """Send the push webhook GitHub would (its payload names the ref, the commits and the push time)."""
        source_id, secret = self.hooks[name]
        payload = {
            "ref": ref,
            "before": before,
            "after": "0" * 40 if deleted else self.known[name].head(),
            "created": not deleted,
            "deleted": deleted,
            "repository": {"full_name": name, "pushed_at": time.time()},
        }
        answer = signed_push(
            f"{self.url}/webhooks/{self.provider}/{source_id}", secret, payload, provider=self.provider
        )
        self.answers.append(answer)
        assert answer.status_code == 202, answer.text


def run_provider_check(target: ProviderTarget, tmp: Path, client: Client) -> None:
    """The short scenario every provider kind passes: install, a pushed tag installable after its webhook,
    and, once the provider is gone, the lock file installs from the broker's own storage."""
    secret = target.token("readonly")
    target.release("acme/lib", "v1.0.0", lib_files("lib 1.0"))
    wait_until(lambda: visible(target, secret, "acme/lib", "v1.0.0"), "acme/lib v1.0.0")
    project = Project(tmp / "project", target, secret, client)
    project.write({"acme/lib": "^1.0"})
    project.composer("install")
    assert project.php("echo \\Acme\\Lib\\Hello::hi();") == "lib 1.0"

    target.release("acme/lib", "v1.1.0", lib_files("lib 1.1"))
    wait_until(lambda: visible(target, secret, "acme/lib", "v1.1.0"), "acme/lib v1.1.0 after its webhook", 60)
    project.composer("update")
    assert project.locked()["acme/lib"]["version"] == "v1.1.0"

    target.fixture.stop()
    project.reset(cache=True)
    project.composer("install")
    assert project.php("echo \\Acme\\Lib\\Hello::hi();") == "lib 1.1"
