"""FetchHttpClient: the HttpClient port over the runtime's global `fetch` (outbound subrequests).

Bodies are collected in JavaScript and capped while they arrive (runtimes/cloudflare/blob.py): metadata
crosses into Python once, archives never do.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from js import AbortSignal, Object, fetch
from pyodide.ffi import JsException, JsProxy

from ... import __version__
from ...ports.http_client import MAX_METADATA_BYTES, Download, HttpResponse
from .blob import receive
from .ffi import failure, from_js_json, is_null, js_object, to_bytes, to_uint8


def _host(url: str) -> str:
    return url.split("/")[2] if "://" in url else url


def _length(response: JsProxy) -> int | None:
    value = response.headers.get("content-length")
    return int(value) if isinstance(value, str) and value.isdigit() else None


def _headers(response: JsProxy) -> dict[str, str]:
    received = from_js_json(Object.fromEntries(response.headers)) or {}
    return {str(k).lower(): str(v) for k, v in received.items()}


class FetchHttpClient:
    def __init__(self, fetcher: Callable[[str, JsProxy], Awaitable[JsProxy]] = fetch) -> None:
        self._fetch = fetcher

    async def _send(
        self, method: str, url: str, headers: Mapping[str, str] | None, body: bytes | None, timeout: float
    ) -> JsProxy:
        init: dict[str, Any] = {
            "method": method,
            "headers": js_object({"user-agent": f"PACKAGE.broker/{__version__}", **dict(headers or {})}),
            "redirect": "follow",
            "signal": AbortSignal.timeout(int(timeout * 1000)),
        }
        if body is not None:
            init["body"] = to_uint8(body)
        try:
            return await self._fetch(url, js_object(init))
        except JsException as exc:
            raise failure(f"{method} {_host(url)} failed", exc, getattr(exc, "name", "fetch error")) from exc

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
        response = await self._send(method, url, headers, body, timeout)
        try:
            blob = await receive(response.body, max_bytes, None, f"the response of {_host(url)}", None)
        except JsException as exc:
            raise failure(f"{method} {_host(url)} failed", exc, getattr(exc, "name", "fetch error")) from exc
        with blob:
            # receive() made blob.file a JsBufferReader; the port types it as BinaryIO, without `native`.
            data = to_bytes(blob.file.native) if blob.size else b""  # type: ignore[attr-defined]
        return HttpResponse(int(response.status), _headers(response), data)

    async def download(
        self, url: str, *, headers: Mapping[str, str] | None = None, timeout: float = 120.0, max_bytes: int
    ) -> Download:
        response = await self._send("GET", url, headers, None, timeout)
        if int(response.status) != 200:
            if not is_null(response.body):
                await response.body.cancel()
            return Download(int(response.status), _headers(response), None)
        try:
            blob = await receive(response.body, max_bytes, _length(response), f"the archive at {_host(url)}")
        except JsException as exc:
            raise failure(f"GET {_host(url)} failed", exc, getattr(exc, "name", "fetch error")) from exc
        return Download(200, _headers(response), blob)


if TYPE_CHECKING:
    from ...ports.http_client import HttpClient

    def _implements_port() -> None:
        """Never called: mypy checks here that FetchHttpClient implements the HttpClient port."""
        _: HttpClient = FetchHttpClient()
