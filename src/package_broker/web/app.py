"""The HTTP application: one `handle(request) -> response` shared by the ASGI server and the Worker.

Routing is a handful of exact paths and two patterns, checked in order of traffic (p2 first). Every
response gets a request id; every request gets one JSON log line (method, path, status, duration,
request id, token id; never a secret).
"""

from __future__ import annotations

import itertools
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable

from ..access.auth import AuthError, authenticate
from ..access.ratelimit import TooManyRequests, over_limit, throttled
from ..access.store import Token
from ..advisories.api import security_advisories
from ..broker import Broker
from ..errors import BrokerError, Conflict, InvalidInput, NotFound
from ..logs import log_request
from . import api, composer, dashboard, health, webhooks
from .http import Request, Response, error_response

log = logging.getLogger("package_broker.request")

_P2 = re.compile(r"^/p2/([^/]+/[^/]+?)(~dev)?\.json$")
_DIST = re.compile(r"^/dists/([^/]+/[^/]+)/([0-9a-f]{40})\.zip$")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class Context:
    """What a handler needs besides the request: the broker, the caller's token, the public base URL."""

    __slots__ = ("base_url", "broker", "rate_headers", "request", "token")

    def __init__(self, broker: Broker, request: Request) -> None:
        self.broker = broker
        self.request = request
        self.token: Token | None = None
        self.base_url = broker.settings.base_url or request.origin
        #: X-RateLimit-* of the caller's token, sent with the response (also a 429).
        self.rate_headers: list[tuple[str, str]] = []

    async def authenticate(self) -> Token:
        broker, request = self.broker, self.request
        if broker.cache.due():
            await broker.cache.refresh()
        if (wait := broker.throttle.blocked(request.client)) is not None:
            raise throttled(wait)
        now = broker.clock.now()
        try:
            token = await authenticate(request.headers.get("authorization"), request.host, broker.tokens, now)
        except AuthError as exc:
            if exc.reason != "missing":  # a credential was presented and refused: one counter write
                await broker.throttle.failed(request.client)
            raise
        self.token = token
        limit = token.rate_limit if token.rate_limit is not None else broker.settings.rate_limit
        if limit > 0:
            decision = await broker.rate_limiter.hit(f"token:{token.id}", limit)
            self.rate_headers = decision.headers()
            if not decision.allowed:
                raise over_limit(decision, token.id, now)
        if broker.tokens.due_for_touch(token):
            request.defer(broker.tokens.touch(token))
        return token


Handler = Callable[[Context], Awaitable[Response]]

_EXACT: dict[tuple[str, str], Handler] = {
    ("GET", "/packages.json"): composer.packages_json,
    ("GET", "/list.json"): composer.list_json,
    ("GET", "/search.json"): composer.search_json,
    ("POST", "/downloads/"): composer.notify_batch,
    ("GET", "/api/security-advisories/"): security_advisories,
    ("POST", "/api/security-advisories/"): security_advisories,
    ("POST", "/api/artifacts"): api.upload_artifact,
    ("POST", "/api/sync"): api.trigger_sync,
    ("GET", "/health"): health.health,
    ("GET", "/"): health.index,
}


class App:
    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        # Request ids: a random per-process prefix and a counter (cheaper than randomness per request).
        self._id_prefix = secrets.token_hex(4)
        self._ids = itertools.count(1)

    async def handle(self, request: Request) -> Response:
        started = time.perf_counter()
        incoming = request.headers.get("x-request-id", "")
        request_id = incoming if incoming and _REQUEST_ID.match(incoming) else f"{self._id_prefix}{next(self._ids):08x}"
        ctx = Context(self.broker, request)
        refused: AuthError | None = None
        try:
            response = await self._dispatch(ctx)
        except AuthError as exc:
            response, refused = _auth_error(exc), exc
        except BrokerError as exc:
            response = _broker_error(exc, request_id, request.path)
        except Exception:
            log.exception("unhandled error", extra={"request_id": request_id, "path": request.path})
            response = error_response(
                500,
                "Internal Server Error",
                "The broker failed to handle this request; see its log.",
                request_id=request_id,
            )
        response.headers += ctx.rate_headers
        response.headers.append(("x-request-id", request_id))
        if response.stream is None:
            response.headers.append(("content-length", str(len(response.body))))
        if request.method == "HEAD":
            response.body, response.stream, response.native = b"", None, None
        token_id = ctx.token.id if ctx.token else None
        if refused is None:
            log_request(request.method, request.path, response.status, _ms(started), request_id, token_id)
        else:
            # Why a 401/403 was given (missing, malformed, unknown, revoked, expired, forbidden), and whose.
            log_request(
                request.method,
                request.path,
                response.status,
                _ms(started),
                request_id,
                token_id or refused.token_id,
                refused.reason,
            )
        return response

    async def _dispatch(self, ctx: Context) -> Response:
        request = ctx.request
        method = "GET" if request.method == "HEAD" else request.method
        path = request.path
        if match := _P2.match(path):
            if method != "GET":
                return _method_not_allowed("GET, HEAD")
            return await composer.p2(ctx, match[1], dev=bool(match[2]))
        if match := _DIST.match(path):
            if method != "GET":
                return _method_not_allowed("GET, HEAD")
            return await composer.dist(ctx, match[1], match[2])
        if match := webhooks.PATTERN.match(path):
            if method != "POST":
                return _method_not_allowed("POST")
            return await webhooks.webhook(ctx, match[1], match[2])
        handler = _EXACT.get((method, path))
        if handler is not None:
            return await handler(ctx)
        allowed = [m for (m, p) in _EXACT if p == path]
        if allowed:
            return _method_not_allowed(", ".join(allowed + (["HEAD"] if "GET" in allowed else [])))
        if path.startswith(dashboard.PREFIX):
            # The dashboard's scripts, styles and icon (the page itself is `GET /` for browsers).
            if method != "GET":
                return _method_not_allowed("GET, HEAD")
            return await dashboard.asset(ctx)
        if path.startswith("/api/"):
            # The admin API (signed-in users; web/admin/): imported on its first call, never on the hot path.
            from .admin.dispatch import dispatch as admin_dispatch

            return await admin_dispatch(ctx)
        if path.startswith(("/p2/", "/dists/")):
            # Malformed or traversal-looking package paths: a plain, fast 404 (nothing to probe).
            return error_response(404, "Not Found", "No such package file.")
        return error_response(404, "Not Found", f"Nothing is served at {path}.")


def _ms(started: float) -> float:
    """Milliseconds since `started` (perf_counter), to the microsecond."""
    return round((time.perf_counter() - started) * 1000, 3)


def _method_not_allowed(allowed: str) -> Response:
    response = error_response(405, "Method Not Allowed", f"Use {allowed}.")
    response.headers.append(("allow", allowed))
    return response


def _auth_error(exc: AuthError) -> Response:
    if isinstance(exc, TooManyRequests):
        response = error_response(429, "Too Many Requests", exc.warning, warning=exc.warning, reason=exc.reason)
        response.headers.append(("retry-after", str(exc.retry_after)))
        return response
    if exc.status == 401:
        response = error_response(401, "Unauthorized", exc.warning, warning=exc.warning, reason=exc.reason)
        response.headers.append(("www-authenticate", 'Basic realm="PACKAGE.broker"'))
        return response
    return error_response(exc.status, "Forbidden", exc.warning, warning=exc.warning, reason=exc.reason)


def _broker_error(exc: BrokerError, request_id: str, path: str) -> Response:
    if isinstance(exc, InvalidInput):
        titles = {
            400: "Bad Request",
            413: "Payload Too Large",
            415: "Unsupported Media Type",
            422: "Unprocessable Entity",
        }
        return error_response(exc.status, titles.get(exc.status, "Bad Request"), str(exc), warning=str(exc))
    if isinstance(exc, Conflict):
        return error_response(409, "Conflict", str(exc), warning=str(exc))
    if isinstance(exc, NotFound):
        return error_response(404, "Not Found", str(exc))
    # A backend (database, key/value store, object store, upstream) failed: its message may carry SQL, table
    # and constraint names or row values, so the client gets a sentence naming nothing internal and the
    # log keeps the detail under the request id the client sees.
    log.warning("request failed: %s", exc, extra={"request_id": request_id, "path": path})
    message = (
        f"The broker could not complete this request; try again. If it keeps failing, its log has request {request_id}."
    )
    return error_response(503, "Service Unavailable", message, warning=message, request_id=request_id)
