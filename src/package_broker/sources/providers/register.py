"""Adding provider sources (the CLI now, the admin API later call these): one repository, or every
repository of an organisation that has a composer.json, each with its own webhook secret."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ...artifacts.subtree import check_subdirectory
from ...errors import Conflict, InvalidInput
from ..context import SyncContext
from ..credentials import Credentials
from ..store import Source
from ..vcs.repository import UpstreamState
from .api import ProviderApi
from .provider import Provider

if TYPE_CHECKING:
    from ...broker import Broker


@dataclass(frozen=True, slots=True)
class Added:
    source: Source
    #: The webhook secret, in clear: shown once, to paste into the provider's webhook settings.
    webhook_secret: str


def webhook_path(provider: Provider, source_id: str) -> str:
    """Where a provider source's push webhook calls (web/webhooks.py answers it)."""
    return f"/webhooks/{provider.name}/{source_id}"


def provider_client(
    ctx: SyncContext, provider: Provider, api_url: str, credentials: Credentials, state: UpstreamState
) -> ProviderApi:
    """The API client of one provider source: its credentials, the PRIVATE_UPSTREAMS guard, the caps."""
    return ProviderApi(
        ctx.need_http(),
        provider=provider.title,
        base_url=api_url,
        auth=provider.auth_headers(credentials),
        state=state,
        guard=ctx.guard(api_url),
        max_archive_bytes=ctx.settings.max_upload_bytes,
    )


def _api_url(provider: Provider, api_url: str | None) -> str:
    url = (api_url or provider.default_api_url or "").rstrip("/")
    if not url:
        raise InvalidInput(f"{provider.title} has no public API: give the installation's API URL (--api-url)")
    if not url.startswith(("https://", "http://")):
        raise InvalidInput(f"the API URL must start with https:// (got {url!r})")
    return url


async def new_webhook_secret(broker: Broker, source_id: str, *, renewed: bool = True) -> str:
    """Generate and store (sealed) a new webhook secret for a source; the old one stops working at once.
    `renewed` (not for a new source) records it in the audit log."""
    secret = secrets.token_urlsafe(32)
    sealed = await broker.seal_credentials({"secret": secret})
    await broker.sources.set_webhook_secret(source_id, sealed, renewed=renewed)
    return secret


def provider_source(
    provider: Provider, path: str, api_url: str | None, subdirectory: str | None = None
) -> tuple[str, dict[str, str]]:
    """The `url` (the repository's API URL, plus `#sub/dir` for a monorepo's package) and options of a new
    provider source. Raises InvalidInput for a malformed path, API URL or sub-directory."""
    base = _api_url(provider, api_url)
    url = provider.repository_url(base, path)  # validates the path
    options = {"api_url": base, "repository": path}
    if subdirectory:
        options["subdirectory"] = check_subdirectory(subdirectory)
        url += "#" + options["subdirectory"]
    return url, options


async def add_repository(
    broker: Broker,
    provider: Provider,
    path: str,
    credentials: Credentials,
    *,
    api_url: str | None = None,
    subdirectory: str | None = None,
) -> Added:
    """Register one repository of `provider` (its path as the provider writes it: OWNER/REPO, ...), or the
    package in `subdirectory` of it."""
    url, options = provider_source(provider, path, api_url, subdirectory)
    values = credentials.values()
    sealed = await broker.seal_credentials(values) if values else None
    source = await broker.sources.add(provider.name, url, sealed, options)
    return Added(source, await new_webhook_secret(broker, source.id, renewed=False))


async def add_organisation(
    broker: Broker, provider: Provider, owner: str, credentials: Credentials, *, api_url: str | None = None
) -> tuple[list[Added], list[str]]:
    """Register every repository of an organisation/group/workspace that has a composer.json.

    Returns what was added and the paths already registered (left as they are)."""
    base = _api_url(provider, api_url)
    api = provider_client(SyncContext.of(broker), provider, base, credentials, UpstreamState())
    added: list[Added] = []
    existing: list[str] = []
    for path in await provider.list_repositories(api, owner):
        try:
            added.append(await add_repository(broker, provider, path, credentials, api_url=base))
        except Conflict:
            existing.append(path)
    return added, existing
