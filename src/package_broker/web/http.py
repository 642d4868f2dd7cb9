"""The core's own request and response: plain data, no framework, no I/O.

Runtimes convert to and from these at their edge (ASGI on the server, `Request`/`Response` objects on
Workers). Keeping the core free of a web framework keeps a warm metadata hit at a few dozen microseconds,
which is what lets one Python process approach a static file server's throughput.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs

from ..ports.blob import Blob, spool

JSON = "application/json"


async def _no_body() -> AsyncIterator[bytes]:
    return
    yield  # pragma: no cover - makes this an async generator


def _ignore(_: Awaitable[Any]) -> None:  # pragma: no cover - replaced by every runtime
    pass


@dataclass(slots=True)
class Request:
    method: str
    #: The path as sent, still percent-encoded: `%2F` stays `%2F` and is rejected, never decoded into `/`.
    path: str
    query: str = ""
    #: Lower-case header names; repeated headers joined with ", ".
    headers: dict[str, str] = field(default_factory=dict)
    scheme: str = "http"
    client: str | None = None
    body: Callable[[], AsyncIterator[bytes]] = _no_body
    #: Run a coroutine after the response is sent (Workers: ctx.waitUntil; server: a tracked task).
    defer: Callable[[Awaitable[Any]], None] = _ignore
    #: The runtime's own way to take the whole body at once (Workers: into one JavaScript buffer);
    #: None: `receive` spools `body()`.
    receiver: Callable[[int], Awaitable[Blob]] | None = None

    async def receive(self, limit: int) -> Blob:
        """The whole body as a Blob, held once and hashed as it arrives.

        Raises:
            PayloadTooLarge: the body is longer than `limit` bytes (reading stops there).
        """
        if self.receiver is not None:
            return await self.receiver(limit)
        return await spool(self.body(), limit)

    @property
    def host(self) -> str:
        return self.headers.get("host", "localhost")

    @property
    def origin(self) -> str:
        return f"{self.scheme}://{self.host}"

    def query_params(self) -> dict[str, list[str]]:
        return parse_qs(self.query, keep_blank_values=True)

    def query_value(self, name: str) -> str | None:
        values = self.query_params().get(name)
        return values[-1] if values else None


@dataclass(slots=True)
class Response:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    #: For large bodies (dists): chunks are sent as they come, `body` is ignored.
    stream: Callable[[], AsyncIterator[bytes]] | None = None
    #: The same body as the runtime's own object (see StoredObject.native); the runtime may send it
    #: instead of `stream`, so bytes never pass through Python.
    native: Any = None

    def header(self, name: str) -> str | None:
        name = name.lower()
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None


def json_response(status: int, data: Any, headers: list[tuple[str, str]] | None = None) -> Response:
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    # Exactly "application/json": Composer only prints an error body's `warning` for that content type.
    return Response(status, [("content-type", JSON), *(headers or [])], body)


def error_response(status: int, error: str, message: str, *, warning: str | None = None, **extra: Any) -> Response:
    """A JSON error body. `warning` is what Composer prints to the user, so it says what to fix."""
    data: dict[str, Any] = {"error": error, "message": message, **extra}
    if warning is not None:
        data["warning"] = warning
    return json_response(status, data)


def http_date(timestamp: int) -> str:
    return formatdate(timestamp, usegmt=True)


@lru_cache(maxsize=256)
def parse_http_date(value: str | None) -> int | None:
    """Return the Unix time of an HTTP date, or None when absent or unreadable (then no 304 is sent).

    Remembered for the last 256 values: parsing costs ~15 us, more than the rest of a warm 304, and a
    Composer fleet sends the same few If-Modified-Since dates over and over."""
    if not value:
        return None
    try:
        return int(parsedate_to_datetime(value).timestamp())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


@lru_cache(maxsize=64)
def accepts_gzip(accept_encoding: str | None) -> bool:
    """True if the client accepts gzip (and did not turn it off with q=0). Remembered for the last 64
    values: clients send a handful of distinct headers."""
    if not accept_encoding:
        return False
    for part in accept_encoding.lower().split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip() in ("gzip", "*"):
            q = params.strip()
            return not (q.startswith("q=") and q[2:].strip() in ("0", "0.0", "0.00", "0.000"))
    return False
