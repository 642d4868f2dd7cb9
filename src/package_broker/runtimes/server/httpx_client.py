"""HttpxHttpClient: outbound HTTP for HTTP-based sources on the server runtime.

Every upstream is hostile: besides the size caps, each transfer has a total time limit (`timeout`, the whole
request, body included: a server dripping a byte every few seconds cannot hold a sync) and an idle limit
(IDLE_SECONDS without a byte).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping

import httpx

from ... import __version__
from ...errors import BackendError
from ...ports.blob import spool, too_large
from ...ports.http_client import MAX_METADATA_BYTES, Download, HttpResponse

#: Seconds an upstream may stay silent (connecting, or between two reads of the body).
IDLE_SECONDS = 20.0


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
            async with asyncio.timeout(timeout):
                async with self._client.stream(
                    method, url, headers=dict(headers or {}), content=body, timeout=_idle(timeout)
                ) as response:
                    received = bytearray()
                    async for chunk in response.aiter_bytes():
                        received += chunk
                        if len(received) > max_bytes:
                            raise too_large(max_bytes, f"the response of {httpx.URL(url).host}", None)
                    return HttpResponse(response.status_code, _headers(response), bytes(received))
        except httpx.HTTPError as exc:
            raise _failed(method, url, exc) from exc
        except TimeoutError:
            raise _timed_out(method, url, timeout) from None

    async def download(
        self, url: str, *, headers: Mapping[str, str] | None = None, timeout: float = 120.0, max_bytes: int
    ) -> Download:
        try:
            async with asyncio.timeout(timeout):
                async with self._client.stream(
                    "GET", url, headers=dict(headers or {}), timeout=_idle(timeout)
                ) as response:
                    if response.status_code != 200:
                        return Download(response.status_code, _headers(response), None)
                    chunks: AsyncIterator[bytes] = response.aiter_bytes()
                    blob = await spool(chunks, max_bytes, f"the archive at {httpx.URL(url).host}")
                    return Download(200, _headers(response), blob)
        except httpx.HTTPError as exc:
            raise _failed("GET", url, exc) from exc
        except TimeoutError:
            raise _timed_out("GET", url, timeout) from None

    async def aclose(self) -> None:
        await self._client.aclose()


def _idle(total: float) -> httpx.Timeout:
    return httpx.Timeout(min(IDLE_SECONDS, total))


def _timed_out(method: str, url: str, seconds: float) -> BackendError:
    return BackendError(f"{method} {httpx.URL(url).host} took longer than {seconds:g} s; gave up")


def _headers(response: httpx.Response) -> dict[str, str]:
    return {k.lower(): v for k, v in response.headers.items()}


def _failed(method: str, url: str, exc: httpx.HTTPError) -> BackendError:
    # The message names the failure and the host, never the request's headers.
    return BackendError(f"{method} {httpx.URL(url).host} failed: {type(exc).__name__}")
