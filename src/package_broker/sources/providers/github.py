"""GitHub (github.com, and GitHub Enterprise Server at https://HOST/api/v3) as a provider source: GitHub's
tables for the logic it shares with Gitea (rest.py).

Composer's GitHubDriver is the reference for what a version carries: tags as `/tags` lists them (peeled to
commits by GitHub), the time of a ref is `commit.committer.date` of `GET /repos/{o}/{r}/commits/{sha}`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ..credentials import Credentials
from .api import ProviderApi
from .provider import Provider
from .rest import Dialect, RestRepository, Signing, composer_repositories, owner_name, repository_path

GITHUB_JSON = "application/vnd.github+json"
GITHUB_RAW = "application/vnd.github.raw"

GITHUB_DIALECT = Dialect(
    json_accept=GITHUB_JSON,
    marker="pushed_at",
    tags="tags?per_page=100",
    branches="branches?per_page=100",
    tag_commit=lambda item: item["commit"]["sha"],
    branch_commit=lambda item: item["commit"]["sha"],
    file="contents/{path}?ref={ref}",
    file_accept=GITHUB_RAW,
    commit="commits/{sha}",
    # GitHub answers 302 to codeload.github.com; the download follows it without the token.
    archive="zipball/{sha}",
)

GITHUB_SIGNING = Signing(
    "GitHub",
    signature=("x-hub-signature-256",),
    prefix="sha256=",
    event=("x-github-event",),
    delivery=("x-github-delivery",),
)


class GitHubRepository(RestRepository):
    def __init__(self, api: ProviderApi, path: str, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__(api, path, GITHUB_DIALECT, clock=clock)


def _github_auth(credentials: Credentials) -> dict[str, str]:
    # No Accept here: each request sets its own (files need the raw media type).
    headers = {"x-github-api-version": "2022-11-28"}
    if credentials.token:
        headers["authorization"] = f"Bearer {credentials.token}"
    return headers


async def _github_repositories(api: ProviderApi, owner: str) -> list[str]:
    owner = owner_name("GitHub", owner)
    # /users/NAME/repos lists a user's public repositories only (GitHub's rule); organisations list all
    # the token may see.
    return await composer_repositories(
        api,
        [f"/orgs/{owner}/repos?per_page=100", f"/users/{owner}/repos?per_page=100"],
        lambda path, branch: f"/repos/{path}/contents/composer.json?ref={branch}",
        GITHUB_JSON,
        GITHUB_RAW,
    )


GITHUB = Provider(
    name="github",
    title="GitHub",
    default_api_url="https://api.github.com",
    path_help="OWNER/REPO",
    repository_url=lambda api_url, path: f"{api_url.rstrip('/')}/repos/{repository_path('GitHub', path)}",
    auth_headers=_github_auth,
    repository=GitHubRepository,
    verify_webhook=GITHUB_SIGNING.verify,
    list_repositories=_github_repositories,
    webhook_help=(
        "GitHub: repository Settings > Webhooks > Add webhook; Content type application/json, the secret "
        "shown here, events 'Just the push event' (tags and branches created or deleted are pushes too)"
    ),
)
