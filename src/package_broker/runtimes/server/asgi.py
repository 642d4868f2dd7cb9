"""The server's edge: an ASGI application that converts ASGI messages to and from the core's Request and
Response. Served by granian (`package-broker serve`); any ASGI server works.

The broker (database connection, caches) is built in the lifespan startup of each worker process and
closed at shutdown; deferred work (token `last_used_at`, download counts) runs as tracked tasks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

from ...web.app import App
from ...web.http import Request, Response

log = logging.getLogger("package_broker.server")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class AsgiAdapter:
    """An ASGI callable around a core `App`, built lazily by `factory` at lifespan startup."""

    def __init__(
        self,
        factory: Callable[[], Awaitable[App]],
        on_shutdown: Callable[[App], Awaitable[None]] | None = None,
        background: list[Callable[[App], Coroutine[Any, Any, None]]] | None = None,
        client_header: str | None = None,
    ) -> None:
        self._factory = factory
        #: TRUSTED_PROXY_HEADER: where a reverse proxy puts the client's address.
        self._client_header = client_header
        self._on_shutdown = on_shutdown
        self._background = background or []
        self.app: App | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if self.app is None:  # servers without lifespan support
                self.app = await self._factory()
            await self._http(self.app, scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    self.app = await self._factory()
                    for job in self._background:
                        self._spawn(job(self.app))
                except Exception as exc:
                    log.exception("startup failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for task in list(self._tasks):
                    task.cancel()
                if self.app is not None and self._on_shutdown is not None:
                    await self._on_shutdown(self.app)
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _spawn(self, coroutine: Awaitable[Any]) -> None:
        async def guarded() -> None:
            try:
                await coroutine
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background task failed")

        task = asyncio.ensure_future(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _http(self, app: App, scope: Scope, receive: Receive, send: Send) -> None:
        raw_headers = scope["headers"]
        # ASGI servers send lower-case names; repeated headers (rare) are joined as HTTP allows.
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in raw_headers}
        if len(headers) != len(raw_headers):
            headers = {}
            for raw_name, raw_value in raw_headers:
                name, value = raw_name.decode("latin-1"), raw_value.decode("latin-1")
                headers[name] = f"{headers[name]}, {value}" if name in headers else value

        async def body() -> AsyncIterator[bytes]:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                chunk = message.get("body", b"")
                if chunk:
                    yield chunk
                if not message.get("more_body", False):
                    return

        raw_path = scope.get("raw_path") or scope["path"].encode()
        peer = scope.get("client")
        client = peer[0] if peer else None
        if self._client_header and (forwarded := headers.get(self._client_header)):
            # The last entry is the one our proxy added; earlier ones came from the client and prove nothing.
            client = forwarded.rsplit(",", 1)[-1].strip() or client
        request = Request(
            method=scope["method"],
            path=raw_path.decode("latin-1"),
            query=scope.get("query_string", b"").decode("latin-1"),
            headers=headers,
            scheme=scope.get("scheme", "http"),
            client=client,
            body=body,
            defer=self._spawn,
        )
        response = await app.handle(request)
        await send_response(response, send)


async def send_response(response: Response, send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": response.status,
            "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers],
        }
    )
    if response.stream is None:
        await send({"type": "http.response.body", "body": response.body})
        return
    async for chunk in response.stream():
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})
