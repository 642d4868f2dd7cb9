"""HttpxHttpClient: outbound HTTP for HTTP-based sources on the server runtime."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from ... import __version__
from ...errors import BackendError
from ...ports.http_client import HttpResponse


class HttpxHttpClient:
    def __init__(self, client: httpx.AsyncClient | None = None) -> None:
        self._client = client or httpx.AsyncClient(
            follow_redirects=True, headers={"user-agent": f"PACKAGE.broker/{__version__}"}
        )

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        timeout: float = 30.0,
    ) -> HttpResponse:
        try:
            response = await self._client.request(
                method, url, headers=dict(headers or {}), content=body, timeout=timeout
            )
        except httpx.HTTPError as exc:
            # The message names the failure and the host, never the request's headers.
            raise BackendError(f"{method} {httpx.URL(url).host} failed: {type(exc).__name__}") from exc
        return HttpResponse(response.status_code, {k.lower(): v for k, v in response.headers.items()}, response.content)

    async def aclose(self) -> None:
        await self._client.aclose()
