"""HttpxHttpClient: outbound HTTP for HTTP-based sources on the server runtime.

Every upstream is hostile: besides the size caps, each transfer has a total time limit (`timeout`, the whole
request, body included: a server dripping a byte every few seconds cannot hold a sync) and an idle limit
(IDLE_SECONDS without a byte).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping

import httpx

from ... import __version__
from ...errors import BackendError
from ...ports.blob import spool, too_large
from ...ports.http_client import (
    MAX_METADATA_BYTES,
    MAX_REDIRECTS,
    Download,
    Guard,
    HttpResponse,
    redirect_target,
    same_origin,
)

#: Seconds an upstream may stay silent (connecting, or between two reads of the body).
IDLE_SECONDS = 20.0


class HttpxHttpClient:
    def __init__(self, client: httpx.AsyncClient | None = None) -> None:
        # Redirects are followed by hand (`_open`), so the caller's guard sees every hop.
        self._client = client or httpx.AsyncClient(
            follow_redirects=False, headers={"user-agent": f"PACKAGE.broker/{__version__}"}
        )

    @contextlib.asynccontextmanager
    async def _open(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        body: bytes | None,
        timeout: float,
        guard: Guard | None,
    ) -> AsyncIterator[httpx.Response]:
        """The response of `url` after following redirects, each hop checked by `guard`."""
        current, sent = url, dict(headers or {})
        for _ in range(MAX_REDIRECTS + 1):
            if guard is not None:
                await guard(current)
            async with self._client.stream(
                method, current, headers=sent, content=body, timeout=_idle(timeout)
            ) as response:
                target = redirect_target(current, response.status_code, response.headers.get("location"))
                if target is None:
                    yield response
                    return
            if not same_origin(target, url):
                sent = {k: v for k, v in sent.items() if k.lower() != "authorization"}
            current = target
        raise BackendError(f"{method} {httpx.URL(url).host} failed: more than {MAX_REDIRECTS} redirects")

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
        try:
            async with asyncio.timeout(timeout), self._open(method, url, headers, body, timeout, guard) as response:
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
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float = 120.0,
        max_bytes: int,
        guard: Guard | None = None,
    ) -> Download:
        try:
            async with asyncio.timeout(timeout), self._open("GET", url, headers, None, timeout, guard) as response:
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
