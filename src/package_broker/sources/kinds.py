"""The table of source kinds: each kind is one entry here and one module. The sync job, the CLI and the
webhook route look kinds up in this table; nothing else branches on a kind's name."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ..errors import BrokerError, InvalidInput
from .composer_repo import ComposerRepositorySync
from .context import SyncContext
from .credentials import Credentials
from .lazy_mirror import sync_lazy_mirror
from .providers.api import ProviderApi, RateLimited
from .providers.bitbucket import BITBUCKET
from .providers.gitea import GITEA
from .providers.github import GITHUB
from .providers.gitlab import GITLAB
from .providers.provider import Provider
from .providers.register import provider_client
from .report import SyncReport
from .store import Source
from .vcs.git_cli import GitCliRepository
from .vcs.repository import UpstreamState
from .vcs.sync import PARTIAL, VcsSync

Sync = Callable[[SyncContext, Source], Awaitable[SyncReport]]


@dataclass(frozen=True, slots=True)
class SourceKind:
    name: str
    #: What `source list` shows as the kind.
    title: str
    #: Runs one sync of a source of this kind; None: the kind needs no sync (uploads).
    sync: Sync | None
    #: The hosting provider behind the kind, if any (its API, credentials and webhooks).
    provider: Provider | None = None


async def _sync_git(ctx: SyncContext, source: Source) -> SyncReport:
    if ctx.git is None:
        raise BrokerError(
            f"plain git sources need the git command line, which the {ctx.runtime} runtime does not have; "
            "sync this source from a self-hosted server, or add it as a github/gitlab/bitbucket/gitea source"
        )
    opened = await ctx.credentials(source)
    credentials = (opened.username or "", opened.password or "") if opened.password else None
    state = UpstreamState()
    url = source.url.split("#", 1)[0]  # "#packages/lib" names a monorepo's package, not a place to clone
    return await VcsSync(ctx, source, GitCliRepository(ctx.git, url, credentials), state).run()


async def _sync_composer(ctx: SyncContext, source: Source) -> SyncReport:
    return await ComposerRepositorySync(ctx, source, ctx.need_http()).run()


def provider_api(
    ctx: SyncContext, provider: Provider, source: Source, credentials: Credentials, state: UpstreamState
) -> ProviderApi:
    """The API client for one provider source (its API base URL is kept in the source's options)."""
    api_url = source.option("api_url") or provider.default_api_url
    if not api_url:
        raise InvalidInput(f"the {provider.title} source {source.id} has no API URL")
    return provider_client(ctx, provider, api_url, credentials, state)


def _provider_sync(provider: Provider) -> Sync:
    async def sync(ctx: SyncContext, source: Source) -> SyncReport:
        state = UpstreamState(await ctx.sources.upstream_state(source.id))
        api = provider_api(ctx, provider, source, await ctx.credentials(source), state)
        repository = provider.repository(api, str(source.option("repository")))
        try:
            return await VcsSync(ctx, source, repository, state).run()
        except RateLimited as exc:
            # Remember when to come back (the next runs send nothing before then) and say so on the source.
            await ctx.sources.record([ctx.sources.upstream_state_statement(source.id, state.values)])
            return SyncReport(source.id, "partial", str(exc), cursor=PARTIAL)

    return sync


PROVIDERS: dict[str, Provider] = {p.name: p for p in (GITHUB, GITLAB, BITBUCKET, GITEA)}
KINDS: dict[str, SourceKind] = {
    "git": SourceKind("git", "git", _sync_git),
    "composer": SourceKind("composer", "composer", _sync_composer),
    "packagist": SourceKind("packagist", "mirror", sync_lazy_mirror),
    "artifact": SourceKind("artifact", "uploads", None),
    **{p.name: SourceKind(p.name, p.title, _provider_sync(p), p) for p in PROVIDERS.values()},
}


def kind_of(source: Source) -> SourceKind:
    try:
        return KINDS[source.kind]
    except KeyError:
        raise BrokerError(f"source kind {source.kind!r} cannot be synced by this version") from None
