"""Between the Workers `Request`/`Response` and the core's.

Headers and the URL cross the boundary once each (as JSON / a string); the path stays percent-encoded,
as on the server. Bodies: a request body is read chunk by chunk from its ReadableStream, or (uploads)
collected whole in JavaScript without entering Python's heap (`Request.receive`, blob.py); a response
body is a Uint8Array, R2's own stream for dists (`Response.native`), or a ReadableStream fed from the
core's async iterator. Pre-gzipped metadata is sent with `encodeBody: "manual"`, so the runtime does not
compress it a second time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from js import Object, Promise, ReadableStream
from js import Response as JsResponse
from pyodide.ffi import JsDoubleProxy, JsPromise, JsProxy, create_once_callable, create_proxy, to_js

from ...ports.blob import Blob
from ...web.http import Request, Response
from .blob import receive
from .ffi import from_js_json, js_object, stream_chunks, to_uint8

_NO_BODY = (101, 204, 205, 304)
log = logging.getLogger("package_broker.worker")


def core_request(js_request: Any, wait_until: Callable[[JsPromise[Any]], object]) -> Request:
    """Build the core Request from a JS Request (or the SDK's wrapper around one)."""
    js_request = getattr(js_request, "js_object", js_request)
    url = urlsplit(str(js_request.url))
    # Header values are strings: the JSON of a Headers object.
    headers: dict[str, str] = from_js_json(Object.fromEntries(js_request.headers)) or {}
    headers.setdefault("host", url.netloc)
    body = js_request.body

    def chunks() -> AsyncIterator[bytes]:
        return stream_chunks(body)

    def receiver(limit: int) -> Awaitable[Blob]:
        declared = headers.get("content-length")
        return receive(body, limit, int(declared) if declared is not None and declared.isdigit() else None)

    def defer(work: Awaitable[Any]) -> None:
        # waitUntil needs a JS Promise that outlives this call: a Python task converted by Pyodide would be
        # a borrowed proxy, destroyed as soon as waitUntil returns.
        task = asyncio.ensure_future(work)

        def settle(resolve: Any, _reject: Any) -> None:
            def done(finished: asyncio.Future[Any]) -> None:
                if not finished.cancelled() and finished.exception() is not None:
                    log.warning("background work failed: %r", finished.exception())
                resolve()

            task.add_done_callback(done)

        wait_until(Promise.new(create_once_callable(settle)))

    return Request(
        method=str(js_request.method),
        path=url.path or "/",
        query=url.query,
        headers={str(k).lower(): str(v) for k, v in headers.items()},
        scheme=url.scheme,
        client=headers.get("cf-connecting-ip"),
        body=chunks,
        defer=defer,
        receiver=receiver,
    )


def _stream_from(chunks: AsyncIterator[bytes]) -> JsProxy:
    """A ReadableStream that pulls from a Python async iterator (for streamed bodies without a native one)."""
    iterator = chunks.__aiter__()
    proxies: list[JsDoubleProxy[Any]] = []

    async def pull(controller: Any) -> None:
        try:
            chunk = await iterator.__anext__()
        except StopAsyncIteration:
            controller.close()
            for proxy in proxies:
                proxy.destroy()
            return
        controller.enqueue(to_uint8(chunk))

    proxies.append(create_proxy(pull))
    return ReadableStream.new(js_object({"pull": proxies[0]}))


def js_response(response: Response) -> JsProxy:
    """Build the JS Response for a core Response."""
    init: dict[str, Any] = {
        "status": response.status,
        "headers": to_js([[k, v] for k, v in response.headers]),
    }
    if response.header("content-encoding"):
        init["encodeBody"] = "manual"
    if response.status in _NO_BODY:
        body: JsProxy | None = None
    elif response.native is not None:
        body = response.native
    elif response.stream is not None:
        body = _stream_from(response.stream())
    else:
        body = to_uint8(response.body)
    return JsResponse.new(body, js_object(init))
