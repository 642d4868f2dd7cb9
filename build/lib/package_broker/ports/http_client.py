"""Outbound HTTP as a port: httpx on the server, the runtime's `fetch` on Workers.

Sources that speak HTTP APIs (Composer repositories, GitHub, GitLab, ...) use it, so they run on both
runtimes. Every upstream is treated as hostile: bodies are capped while they arrive (never read whole and
measured afterwards). Adapters raise `BackendError` for transport failures and `PayloadTooLarge` past a
cap; HTTP error statuses are returned, not raised.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urljoin, urlsplit

from .blob import Blob

#: Largest metadata body (packages.json, p2 files) read from an upstream. The biggest p2 files on
#: packagist.org are a few MiB; parsing JSON in Pyodide takes several times its size in memory.
MAX_METADATA_BYTES = 16 * 1024 * 1024
#: Redirects followed per request; each hop is checked by the caller's guard first.
MAX_REDIRECTS = 5
#: Called with every URL before it is fetched (the first and each redirect); raises to refuse it.
Guard = Callable[[str], Awaitable[None]]


def redirect_target(url: str, status: int, location: str | None) -> str | None:
    """The URL a 301/302/303/307/308 response sends the client to, or None when it is not a redirect."""
    if status not in (301, 302, 303, 307, 308) or not location:
        return None
    return urljoin(url, location)


def same_origin(a: str, b: str) -> bool:
    """True if both URLs have the same scheme, host and port (credentials may follow a redirect only then)."""
    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.scheme, pa.hostname, pa.port) == (pb.scheme, pb.hostname, pb.port)


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    #: Lower-cased header names.
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class Download:
    status: int
    #: Lower-cased header names.
    headers: dict[str, str]
    #: The body when the status is 200, else None (the body was not read).
    blob: Blob | None


class HttpClient(Protocol):
    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        timeout: float = 30.0,
        max_bytes: int = MAX_METADATA_BYTES,
        guard: Guard | None = None,
    ) -> HttpResponse:
        """Send one request and return the whole response (bodies here are metadata, not archives).

        Up to MAX_REDIRECTS redirects are followed, each target checked by `guard` first; an Authorization
        header goes to the first URL's origin only. The body is decompressed if the server gzipped it.

        Raises:
            PayloadTooLarge: the body is longer than `max_bytes` (reading stops there).
        """
        ...

    async def download(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float = 120.0,
        max_bytes: int,
        guard: Guard | None = None,
    ) -> Download:
        """GET an archive into a Blob, hashing it as it arrives (redirects as for `request`).

        Raises:
            PayloadTooLarge: the body is longer than `max_bytes` (reading stops there).
        """
        ...
