"""The core wired to one runtime's adapters: the object every entry point (HTTP, CLI, cron) works through."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from .access.ratelimit import Counter, DatabaseCounter, FailureThrottle, RateLimiter
from .access.store import TokenStore
from .accounts.sealed import TotpSecrets
from .accounts.sessions import SessionStore
from .accounts.users import UserStore
from .audit import Audit
from .cache import Cache
from .catalog.store import Catalog
from .composer.documents import Documents
from .config import Settings
from .crypto.credentials import seal_json, unseal_json
from .errors import ConfigError
from .ports import Clock, Database, GitReader, HttpClient, KVStore, ObjectStore, SystemClock
from .ports.cipher import Cipher
from .ports.kdf import Kdf
from .ports.metered import MeteredDatabase, MeteredHttp, MeteredKV, MeteredObjects
from .sources.lazy_mirror import LazyMirror
from .sources.store import SourceStore

T = TypeVar("T")


async def run_inline(function: Callable[[], T]) -> T:
    """Run CPU-bound work on the event loop (Workers have no threads)."""
    return function()


@dataclass
class Ports:
    """The adapters a runtime provides. `git` and `http` are None where the runtime has none."""

    db: Database
    kv: KVStore
    objects: ObjectStore
    clock: Clock = SystemClock()
    http: HttpClient | None = None
    git: GitReader | None = None
    #: AES-256-GCM for upstream credentials; None where the runtime cannot provide it.
    cipher: Cipher | None = None
    #: PBKDF2 for dashboard passwords (hashlib in a thread on the server, WebCrypto on Workers).
    kdf: Kdf | None = None
    #: Runs blocking CPU work (zip checks): a thread on the server, inline on Workers.
    offload: Callable[[Callable[[], Any]], Awaitable[Any]] = run_inline
    #: Resolves a host name to its addresses (for PRIVATE_UPSTREAMS); None where the runtime cannot.
    resolve: Callable[[str], Awaitable[list[str]]] | None = None
    #: "server" or "workers", shown in /health and in sync messages.
    runtime: str = "server"
    #: Where request limits and failed authentications are counted; None: the database (access/ratelimit.py).
    counter: Counter | None = None
    #: Requests an isolate may count locally before adding them to the shared counter (1: exact; see
    #: access/ratelimit.py for the bound a larger batch gives).
    counter_batch: int = 1
    #: Called by Broker.close() to release what the adapters opened (connections, clients).
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


class Broker:
    def __init__(self, settings: Settings, ports: Ports) -> None:
        self.settings = settings
        # Every call through a port is counted against the running invocation's budget (ports/metered.py).
        self.ports = replace(
            ports,
            db=MeteredDatabase(ports.db),
            kv=MeteredKV(ports.kv),
            objects=MeteredObjects(ports.objects),
            http=MeteredHttp(ports.http) if ports.http is not None else None,
        )
        ports = self.ports
        self.cache = Cache(ports.db, ports.kv, seconds=settings.memo_seconds)
        self.catalog = Catalog(ports.db, ports.clock, self.cache)
        self.tokens = TokenStore(ports.db, self.cache, ports.clock)
        self.sources = SourceStore(ports.db, ports.clock)
        self.documents = Documents(self.catalog, self.cache)
        self.audit = Audit(ports.db, ports.clock, settings.audit_retention_days)
        counter = ports.counter or DatabaseCounter(ports.db)
        self.rate_limiter = RateLimiter(counter, ports.clock, batch=ports.counter_batch)
        self.throttle = FailureThrottle(counter, ports.clock, limit=settings.auth_failure_limit)
        #: The lazy packagist mirror's request side (p2 and dist misses, packages.json's additions).
        self.mirror = LazyMirror(self)
        self.users = UserStore(
            ports.db, ports.clock, ports.kdf, settings.password_iterations, TotpSecrets(ports.cipher, settings)
        )
        self.sessions = SessionStore(
            ports.db, ports.clock, hours=settings.session_hours, idle_minutes=settings.session_idle_minutes
        )

    @property
    def clock(self) -> Clock:
        return self.ports.clock

    def _cipher(self) -> Cipher:
        if self.ports.cipher is None:
            raise ConfigError("ENCRYPTION_KEY", f"the {self.ports.runtime} runtime has no AES-GCM implementation")
        return self.ports.cipher

    async def seal_credentials(self, values: dict[str, str]) -> str:
        """Encrypt upstream credentials for storage (never stored or logged in clear)."""
        return await seal_json(self._cipher(), self.settings.key_bytes(), values)

    async def open_credentials(self, sealed: str) -> dict[str, str]:
        """Decrypt sealed credentials with ENCRYPTION_KEY, or ENCRYPTION_KEY_PREVIOUS while a rotation runs."""
        key, previous = self.settings.key_bytes(), self.settings.previous_key_bytes()
        return await unseal_json(self._cipher(), key, sealed, previous)

    async def close(self) -> None:
        await self.ports.db.close()
        for close in self.ports.closers:
            await close()
