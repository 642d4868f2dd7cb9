"""A release target for the end-to-end scenario where packages live on a provider (GitHub-shaped fixture over
real git repositories): a release is a commit and a tag pushed there, and the broker learns of it from a
signed push webhook, as it would from GitHub. Shared by the server and Worker suites."""

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

from tests.fixtures.providers.github import GitHubFixture
from tests.helpers import Repo, git

TOKEN = "ghp_e2eFixtureToken0123456789abcdef"


def signed_push(url: str, secret: str, payload: dict[str, Any], *, delivery: str | None = None) -> httpx.Response:
    """POST a push webhook the way GitHub signs it (HMAC-SHA256 of the body, X-Hub-Signature-256)."""
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {
        "content-type": "application/json",
        "x-github-event": "push",
        "x-github-delivery": delivery or str(uuid.uuid4()),
        "x-hub-signature-256": signature,
    }
    return httpx.post(url, content=body, headers=headers, timeout=30)


class ProviderTarget:
    """`release`/`withdraw` push to the fixture's repositories; the first release of a package adds it as a
    github source (`add_source(path) -> (source id, webhook secret)`), later ones send its webhook."""

    def __init__(
        self,
        url: str,
        repos: Path,
        fixture: GitHubFixture,
        add_source: Callable[[str], tuple[str, str]],
        token: Callable[[str], str],
        requests: Callable[[], list[dict[str, Any]]],
    ) -> None:
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
        answer = signed_push(f"{self.url}/webhooks/github/{source_id}", secret, payload)
        self.answers.append(answer)
        assert answer.status_code == 202, answer.text
