"""`Provider`: one hosting service (GitHub, GitLab, Bitbucket, Gitea) as a source kind, described by data.

Adding a provider is one module defining a `Provider` and one line in `providers/__init__.py`: the CLI,
the sync, the webhook route and the docs all read this table.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from ...errors import BrokerError
from ..credentials import Credentials
from ..vcs.repository import Repository
from .api import ProviderApi


class WebhookRefused(BrokerError):
    """A webhook call that is unsigned, wrongly signed, replayed or not for this source: answered 401."""


@dataclass(frozen=True, slots=True)
class WebhookCall:
    """A verified webhook call."""

    #: The provider's delivery id (GitHub X-GitHub-Delivery, ...), remembered to refuse replays; None if the
    #: provider sends none.
    delivery: str | None
    #: "push" (something changed: sync now) or "ping" (the provider checks the URL: nothing to do).
    event: str


@dataclass(frozen=True, slots=True)
class Provider:
    #: The source kind: "github", "gitlab", "bitbucket", "gitea".
    name: str
    #: How people write it: "GitHub".
    title: str
    #: The public API's base URL; None where every installation is self-hosted (Gitea): --api-url required.
    default_api_url: str | None
    #: How a repository is named on the command line: "OWNER/REPO", "GROUP/PROJECT", ...
    path_help: str
    #: The repository's own API URL (the source's `url`), from the API base and the repository path.
    repository_url: Callable[[str, str], str]
    #: The HTTP headers that carry the credentials to the API.
    auth_headers: Callable[[Credentials], dict[str, str]]
    #: A Repository reading `path` through `api`.
    repository: Callable[[ProviderApi, str], Repository]
    #: Checks a webhook call against the source's secret: (headers with lower-case names, body, secret).
    #: Raises WebhookRefused.
    verify_webhook: Callable[[Mapping[str, str], bytes, str], WebhookCall]
    #: Every repository path of an organisation/group/workspace that has a composer.json (for `--all`).
    list_repositories: Callable[[ProviderApi, str], Awaitable[list[str]]]
    #: What the provider calls its webhook settings page, for the instructions shown at `source add`.
    webhook_help: str = ""
