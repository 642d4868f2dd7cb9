"""Gitea and Forgejo (same API) as a provider source: always self-hosted, the API base is like
https://git.example.com/api/v1.

Composer has no Gitea driver; its ForgejoDriver (recent Composer 2 releases) is the reference here: tags
from `/tags` (`commit.sha`, peeled), branches from `/branches` (`commit.id`), the time of a ref is
`commit.committer.date` of `GET /repos/{o}/{r}/git/commits/{sha}`, dists from `/archive/{sha}.zip`.

The listing logic is GitHub's (`RestRepository`); the push marker is the repository's `updated_at`, which
Gitea sets on every push (and on settings changes, which only cost a re-listing). A pull mirror sets it to
its newest commit's date, so a tag mirrored onto an old commit is seen at the daily re-listing.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ..credentials import Credentials
from .api import ProviderApi
from .provider import Provider
from .rest import Dialect, RestRepository, Signing, composer_repositories, owner_name, repository_path

GITEA_DIALECT = Dialect(
    json_accept="application/json",
    marker="updated_at",
    # Gitea's page size is `limit` (at most MAX_RESPONSE_ITEMS, 50 by default); it ignores `per_page`.
    tags="tags?limit=50",
    branches="branches?limit=50",
    tag_commit=lambda item: item["commit"]["sha"],
    branch_commit=lambda item: item["commit"]["id"],
    file="raw/{path}?ref={ref}",
    file_accept="application/octet-stream",
    # As Composer's ForgejoDriver asks: no signature verification, no file list (cheaper for the server).
    commit="git/commits/{sha}?verification=false&files=false",
    archive="archive/{sha}.zip",
)

#: Forgejo sends its own X-Forgejo-* headers besides Gitea's; when present, those are the ones checked.
GITEA_SIGNING = Signing(
    "Gitea",
    signature=("x-forgejo-signature", "x-gitea-signature"),
    prefix="",
    event=("x-forgejo-event", "x-gitea-event"),
    delivery=("x-forgejo-delivery", "x-gitea-delivery"),
)


class GiteaRepository(RestRepository):
    def __init__(self, api: ProviderApi, path: str, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__(api, path, GITEA_DIALECT, clock=clock)


def _gitea_auth(credentials: Credentials) -> dict[str, str]:
    return {"authorization": f"token {credentials.token}"} if credentials.token else {}


async def _gitea_repositories(api: ProviderApi, owner: str) -> list[str]:
    owner = owner_name("Gitea", owner)
    return await composer_repositories(
        api,
        [f"/orgs/{owner}/repos?limit=50", f"/users/{owner}/repos?limit=50"],
        lambda path, branch: f"/repos/{path}/raw/composer.json?ref={branch}",
        "application/json",
        "application/octet-stream",
    )


GITEA = Provider(
    name="gitea",
    title="Gitea",
    default_api_url=None,
    path_help="OWNER/REPO",
    repository_url=lambda api_url, path: f"{api_url.rstrip('/')}/repos/{repository_path('Gitea', path)}",
    auth_headers=_gitea_auth,
    repository=GiteaRepository,
    verify_webhook=GITEA_SIGNING.verify,
    list_repositories=_gitea_repositories,
    webhook_help=(
        "Gitea/Forgejo: repository Settings > Webhooks > Add webhook > Gitea (or Forgejo); POST, content "
        "type application/json, the secret shown here, trigger on push events (and create/delete)"
    ),
)
