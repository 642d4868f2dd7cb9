"""The admin API's dispatcher: find the route, authenticate by its role, validate, run the handler, answer JSON.

Before a handler runs: the method and path matched a route (else 404, or 405 with `Allow`), the caller is a
signed-in user with the route's role (401 without a session, 403 for a viewer on an admin route; unsafe
methods also need the session's CSRF header, which `accounts.web.current_user` checks), path parameters are
decoded and bounded, the query is parsed to its declared types and the JSON body validated into the route's
model (422 naming each field). The handler runs as `user:<name>` for the audit log.

Errors have one JSON shape, `{"error", "message", ...}` (web/http.error_response): the core's own errors
say what to fix; a backend's text (SQL, driver messages) never reaches the client (web/app.py logs it under
the request id and answers 503); an unexpected exception is a 500 with the request id, also from web/app.py.
A 401 here carries no `WWW-Authenticate: Basic` challenge, so a browser never pops up a password dialog.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from ...access.auth import AuthError
from ...access.ratelimit import TooManyRequests
from ...audit import acting_as
from ...untrusted_json import UntrustedJsonError, loads
from ..http import Response, error_response, json_response
from .routing import ApiCall, Route
from .schema import ValidationFailed, dump, parse_query_value, validate

if TYPE_CHECKING:
    from ..app import Context

#: Largest JSON body the admin API reads (its bodies are a few fields; uploads are not JSON).
MAX_JSON_BYTES = 64 * 1024
#: Longest path parameter accepted after decoding (ids, package names, versions are far shorter).
MAX_PARAM_LENGTH = 255
_PARAM = re.compile(r"\{([a-z_]+)\}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SAFE_METHODS = ("GET", "HEAD")


@dataclass(frozen=True, slots=True)
class _Compiled:
    route: Route
    pattern: re.Pattern[str]
    literal: int  # literal characters: more specific templates are tried first


def _compile(route: Route) -> _Compiled:
    parts = _PARAM.split(route.path)
    regex = "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>[^/]+)" for i, part in enumerate(parts))
    literal = sum(len(part) for part in parts[::2])
    return _Compiled(route, re.compile(f"^{regex}$"), literal)


def all_routes() -> list[Route]:
    """Every route of the admin API, from one module per resource (imported here, on the first /api call,
    so the Composer path never pays for them)."""
    from . import advisories, audit, openapi, packages, reference, session, sources, stats, tokens, users

    return [
        *openapi.ROUTES,
        *reference.ROUTES,
        *session.ROUTES,
        *users.ROUTES,
        *sources.ROUTES,
        *tokens.ROUTES,
        *packages.ROUTES,
        *advisories.ROUTES,
        *audit.ROUTES,
        *stats.ROUTES,
    ]


class Dispatcher:
    def __init__(self, routes: Iterable[Route]) -> None:
        self.routes = list(routes)
        seen: set[tuple[str, str]] = set()
        for route in self.routes:
            key = (route.method, route.path)
            if key in seen:
                raise ValueError(f"two admin routes for {route.method} {route.path}")
            seen.add(key)
        self._compiled = sorted((_compile(r) for r in self.routes), key=lambda c: -c.literal)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | list[str]:
        """The route and its raw path parameters, or the methods the path allows (empty: no such path)."""
        allowed: list[str] = []
        for compiled in self._compiled:
            found = compiled.pattern.match(path)
            if found is None:
                continue
            if compiled.route.method == method:
                return compiled.route, found.groupdict()
            allowed.append(compiled.route.method)
        return allowed

    async def dispatch(self, ctx: Context) -> Response:
        request = ctx.request
        method = "GET" if request.method == "HEAD" else request.method
        matched = self.match(method, request.path)
        if isinstance(matched, list):
            if not matched:
                shown = request.path if len(request.path) <= 200 else request.path[:200] + "…"
                return error_response(404, "Not Found", f"The admin API has nothing at {shown}; see /api/docs.")
            allow = ", ".join(sorted(set(matched) | ({"HEAD"} if "GET" in matched else set())))
            response = error_response(405, "Method Not Allowed", f"Use {allow}.")
            response.headers.append(("allow", allow))
            return response
        route, raw = matched
        try:
            return await self._run(ctx, route, raw)
        except TooManyRequests as exc:
            response = error_response(429, "Too Many Requests", exc.warning, reason=exc.reason)
            response.headers.append(("retry-after", str(exc.retry_after)))
            return response
        except AuthError as exc:
            title = "Unauthorized" if exc.status == 401 else "Forbidden"
            extra: dict[str, Any] = {
                k: v for k, v in getattr(exc, "details", {}).items() if isinstance(v, str | bool | int)
            }
            return error_response(exc.status, title, exc.warning, reason=exc.reason, **extra)
        except ValidationFailed as exc:
            return error_response(422, "Unprocessable Entity", str(exc), errors=exc.problems)

    async def _run(self, ctx: Context, route: Route, raw: dict[str, str]) -> Response:
        request = ctx.request
        user = None
        if route.role != "public":
            user = await _authenticate(ctx, write=request.method not in _SAFE_METHODS)
            if route.role == "admin" and user.role != "admin":
                raise AuthError(
                    "forbidden",
                    f"{user.name} is a viewer; {route.method} {route.path} needs the admin role.",
                    status=403,
                )
        params = _params(raw)
        query = _query(route, request.query_params())
        body = await _body(ctx, route) if route.body is not None else None
        call = ApiCall(ctx, params, user, body, query)
        if user is not None:
            with acting_as(f"user:{user.name}", request.client):
                result = await route.handler(call)
        else:
            result = await route.handler(call)
        if isinstance(result, Response):
            return result
        if route.status == 204:
            return Response(204, [])
        return json_response(route.status, dump(result), [("cache-control", "no-store")])


async def _authenticate(ctx: Context, *, write: bool) -> Any:
    from ...accounts.web import current_user  # the accounts package owns sessions and CSRF

    return await current_user(ctx, write=write)


def _params(raw: dict[str, str]) -> dict[str, str]:
    """Path parameters, percent-decoded once (`%2F` may stand in a version's name); empty, too long, not UTF-8
    or holding control characters: 422 (nothing has such a name; the message does not echo it)."""
    params: dict[str, str] = {}
    for name, value in raw.items():
        try:
            decoded = unquote(value, errors="strict") if "%" in value else value
        except UnicodeDecodeError:
            decoded = ""
        if not decoded or len(decoded) > MAX_PARAM_LENGTH or _CONTROL.search(decoded):
            raise ValidationFailed([{"field": f"path.{name}", "message": "is not a valid value"}])
        params[name] = decoded
    return params


def _query(route: Route, given: dict[str, list[str]]) -> dict[str, Any]:
    """The route's declared query parameters that were given, as their types (unknown ones are ignored, as
    HTTP clients and proxies add their own)."""
    parsed: dict[str, Any] = {}
    for name, (tp, _) in route.query.items():
        values = given.get(name)
        if values:
            parsed[name] = parse_query_value(tp, values[-1], f"query.{name}")
    return parsed


async def _body(ctx: Context, route: Route) -> Any:
    request = ctx.request
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type and content_type != "application/json" and not content_type.endswith("+json"):
        raise ValidationFailed([{"field": "body", "message": "send JSON (Content-Type: application/json)"}])
    with await request.receive(MAX_JSON_BYTES) as blob:
        data = blob.file.read(MAX_JSON_BYTES + 1)
    if not data.strip():
        raise ValidationFailed([{"field": "body", "message": "a JSON object is required"}])
    try:
        parsed = loads(data)
    except UntrustedJsonError as exc:
        raise ValidationFailed([{"field": "body", "message": f"not valid JSON: {exc}"}]) from None
    return validate(route.body, parsed, "body")


_DISPATCHER: Dispatcher | None = None


def dispatcher() -> Dispatcher:
    """The process's dispatcher over `all_routes()`, built on first use."""
    global _DISPATCHER
    if _DISPATCHER is None:
        _DISPATCHER = Dispatcher(all_routes())
    return _DISPATCHER


async def dispatch(ctx: Context) -> Response:
    """web/app.py's entry for every `/api/...` path other than the token-authenticated CI endpoints."""
    return await dispatcher().dispatch(ctx)
