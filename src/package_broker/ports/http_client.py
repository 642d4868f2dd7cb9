"""Outbound HTTP as a port: httpx on the server, the runtime's `fetch` on Workers.

Sources that speak HTTP APIs (Composer repositories, GitHub, GitLab, ...) use it, so they run on both
runtimes. Adapters raise `BackendError` for transport failures; HTTP error statuses are returned, not raised.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    #: Lower-cased header names.
    headers: dict[str, str]
    body: bytes


class HttpClient(Protocol):
    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        timeout: float = 30.0,
    ) -> HttpResponse:
        """Send one request and return the whole response (bodies here are metadata, not archives).

        Redirects are followed; the body is decompressed if the server gzipped it.
        """
        ...
