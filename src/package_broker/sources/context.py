"""`SyncContext`: what a source's sync may use, and nothing more (not the whole broker).

A syncer reads upstreams through `http` or `git`, stores archives in `objects`, records what it serves in
`catalog` and what it saw in `sources`; it never touches tokens, the HTTP app or the cache directly.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..catalog.store import Catalog
from ..config import Settings
from ..ports import Clock, GitReader, HttpClient, ObjectStore
from ..ports.http_client import Guard
from .addresses import check_upstream_url
from .credentials import Credentials
from .store import Source, SourceStore

if TYPE_CHECKING:
    from ..broker import Broker


@dataclass(frozen=True)
class SyncContext:
    catalog: Catalog
    sources: SourceStore
    objects: ObjectStore
    settings: Settings
    clock: Clock
    #: Runs blocking CPU work (zip checks): a thread on the server, inline on Workers.
    offload: Callable[[Callable[[], Any]], Awaitable[Any]]
    #: Decrypts a source's sealed credentials.
    open_credentials: Callable[[str], Awaitable[dict[str, str]]]
    #: Resolves a host name (for PRIVATE_UPSTREAMS); None where the runtime cannot.
    resolve: Callable[[str], Awaitable[list[str]]] | None
    #: "server" or "workers", for messages.
    runtime: str
    http: HttpClient | None = None
    git: GitReader | None = None

    @classmethod
    def of(cls, broker: Broker) -> SyncContext:
        ports = broker.ports
        return cls(
            catalog=broker.catalog,
            sources=broker.sources,
            objects=ports.objects,
            settings=broker.settings,
            clock=ports.clock,
            offload=ports.offload,
            open_credentials=broker.open_credentials,
            resolve=ports.resolve,
            runtime=ports.runtime,
            http=ports.http,
            git=ports.git,
        )

    def guard(self, source_url: str) -> Guard:
        """The check every URL a source's upstream names must pass (PRIVATE_UPSTREAMS)."""

        async def check(url: str) -> None:
            await check_upstream_url(url, source_url, self.settings.private_upstreams, self.resolve)

        return check

    async def credentials(self, source: Source) -> Credentials:
        """A source's credentials, opened (empty when it has none)."""
        return Credentials.of(await self.open_credentials(source.credentials) if source.credentials else None)

    def need_http(self) -> HttpClient:
        if self.http is None:
            from ..errors import BrokerError

            raise BrokerError(f"the {self.runtime} runtime has no HTTP client")
        return self.http
