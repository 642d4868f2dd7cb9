"""HttpxHttpClient: outbound HTTP for HTTP-based sources on the server runtime."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

import httpx

from ... import __version__
from ...errors import BackendError
from ...ports.blob import spool, too_large
from ...ports.http_client import MAX_METADATA_BYTES, Download, HttpResponse


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
        max_bytes: int = MAX_METADATA_BYTES,
    ) -> HttpResponse:
        try:
            async with self._client.stream(
                method, url, headers=dict(headers or {}), content=body, timeout=timeout
            ) as response:
                received = bytearray()
                async for chunk in response.aiter_bytes():
                    received += chunk
                    if len(received) > max_bytes:
                        raise too_large(max_bytes, f"the response of {httpx.URL(url).host}", None)
                return HttpResponse(response.status_code, _headers(response), bytes(received))
        except httpx.HTTPError as exc:
            raise _failed(method, url, exc) from exc

    async def download(
        self, url: str, *, headers: Mapping[str, str] | None = None, timeout: float = 120.0, max_bytes: int
    ) -> Download:
        try:
            async with self._client.stream("GET", url, headers=dict(headers or {}), timeout=timeout) as response:
                if response.status_code != 200:
                    return Download(response.status_code, _headers(response), None)
                chunks: AsyncIterator[bytes] = response.aiter_bytes()
                blob = await spool(chunks, max_bytes, f"the archive at {httpx.URL(url).host}")
                return Download(200, _headers(response), blob)
        except httpx.HTTPError as exc:
            raise _failed("GET", url, exc) from exc

    async def aclose(self) -> None:
        await self._client.aclose()


def _headers(response: httpx.Response) -> dict[str, str]:
    return {k.lower(): v for k, v in response.headers.items()}


def _failed(method: str, url: str, exc: httpx.HTTPError) -> BackendError:
    # The message names the failure and the host, never the request's headers.
    return BackendError(f"{method} {httpx.URL(url).host} failed: {type(exc).__name__}")
