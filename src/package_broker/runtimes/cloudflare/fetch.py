"""FetchHttpClient: the HttpClient port over the runtime's global `fetch` (outbound subrequests)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from js import AbortSignal, Object, fetch
from pyodide.ffi import JsException

from ... import __version__
from ...errors import BackendError
from ...ports.http_client import HttpResponse
from .ffi import from_js_json, js_object, to_bytes, to_uint8


class FetchHttpClient:
    def __init__(self, fetcher: Any = fetch) -> None:
        self._fetch = fetcher

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        timeout: float = 30.0,
    ) -> HttpResponse:
        init: dict[str, Any] = {
            "method": method,
            "headers": js_object({"user-agent": f"PACKAGE.broker/{__version__}", **dict(headers or {})}),
            "redirect": "follow",
            "signal": AbortSignal.timeout(int(timeout * 1000)),
        }
        if body is not None:
            init["body"] = to_uint8(body)
        try:
            response = await self._fetch(url, js_object(init))
            data = to_bytes(await response.arrayBuffer())
        except JsException as exc:
            host = url.split("/")[2] if "://" in url else url
            raise BackendError(f"{method} {host} failed: {getattr(exc, 'name', 'fetch error')}") from exc
        received = from_js_json(Object.fromEntries(response.headers)) or {}
        return HttpResponse(int(response.status), {str(k).lower(): str(v) for k, v in received.items()}, data)
