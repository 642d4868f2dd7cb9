"""FetchHttpClient: the HttpClient port over the runtime's global `fetch` (outbound subrequests).

Bodies are collected in JavaScript and capped while they arrive (runtimes/cloudflare/blob.py): metadata
crosses into Python once, archives never do. Redirects are followed by hand, so the caller's guard checks
every hop (package_broker.sources.addresses).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from js import AbortSignal, Object, fetch
from pyodide.ffi import JsException, JsProxy

from ... import __version__
from ...budget import charge
from ...errors import BackendError
from ...ports.http_client import (
    MAX_METADATA_BYTES,
    MAX_REDIRECTS,
    Download,
    Guard,
    HttpResponse,
    redirect_target,
    same_origin,
)
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

    async def _open(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        body: bytes | None,
        timeout: float,
        guard: Guard | None,
    ) -> JsProxy:
        """The response of `url` after following redirects by hand, each hop checked by `guard` first.

        One AbortSignal bounds all hops and the body: the whole transfer takes at most `timeout` seconds.
        """
        signal = AbortSignal.timeout(int(timeout * 1000))
        current, sent = url, {"user-agent": f"PACKAGE.broker/{__version__}", **dict(headers or {})}
        for hop in range(MAX_REDIRECTS + 1):
            if guard is not None:
                await guard(current)
            if hop:
                charge("fetch")  # every hop is a subrequest of its own
            init: dict[str, Any] = {
                "method": method,
                "headers": js_object(sent),
                "redirect": "manual",
                "signal": signal,
            }
            if body is not None:
                init["body"] = to_uint8(body)
            try:
                response = await self._fetch(current, js_object(init))
            except JsException as exc:
                raise failure(f"{method} {_host(url)} failed", exc, getattr(exc, "name", "fetch error")) from exc
            target = redirect_target(current, int(response.status), response.headers.get("location"))
            if target is None:
                return response
            if not is_null(response.body):
                await response.body.cancel()
            if not same_origin(target, url):
                sent = {k: v for k, v in sent.items() if k.lower() != "authorization"}
            current = target
        raise BackendError(f"{method} {_host(url)} failed: more than {MAX_REDIRECTS} redirects")

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
        response = await self._open(method, url, headers, body, timeout, guard)
        try:
            blob = await receive(response.body, max_bytes, None, f"the response of {_host(url)}", None)
        except JsException as exc:
            raise failure(f"{method} {_host(url)} failed", exc, getattr(exc, "name", "fetch error")) from exc
        with blob:
            # receive() made blob.file a JsBufferReader; the port types it as BinaryIO, without `native`.
            data = to_bytes(blob.file.native) if blob.size else b""  # type: ignore[attr-defined]
        return HttpResponse(int(response.status), _headers(response), data)

    async def download(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float = 120.0,
        max_bytes: int,
        guard: Guard | None = None,
    ) -> Download:
        response = await self._open("GET", url, headers, None, timeout, guard)
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
