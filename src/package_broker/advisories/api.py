"""`GET|POST /api/security-advisories/`: what packages.json's `security-advisories.api-url` names.

Composer sends `packages[]=vendor/name` (form-encoded in a POST, up to 500 per request, and
`updatedSince`, which we may ignore: Composer filters by version itself) and reads
`{"advisories": {"vendor/name": [advisory, ...]}}`, names it did not ask about being an error.

Each name answers from one origin only: a private name (a private source serves it, or its vendor is
private) from the operator's advisories, a mirrored name from the mirror's upstream, asked at most once per
ADVISORY_TTL per name (one upstream request for all stale names of a query; on failure the last answer
is served). Names a token may not see are left out, as in every other endpoint.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from ..composer.names import naming_error
from ..errors import BrokerError, InvalidInput, PayloadTooLarge
from ..sources.context import SyncContext
from ..web.composer import _authenticated
from ..web.http import Response, json_response
from .store import OPERATOR, AdvisoryStore
from .upstream import UPSTREAM_BATCH, fetch_advisories

if TYPE_CHECKING:
    from ..web.app import Context

log = logging.getLogger("package_broker.advisories")

#: Seconds a mirrored package's upstream advisories are served before the upstream is asked again.
ADVISORY_TTL = 3600
#: Names one query may ask about, and the largest body read.
MAX_NAMES = 1000
_MAX_BODY = 256 * 1024


async def _names(ctx: Context) -> list[str]:
    """The package names asked about: `packages[]` (or `packages[N]`, as PHP's http_build_query writes it)."""
    query = ctx.request.query
    if ctx.request.method == "POST":
        body = b""
        async for chunk in ctx.request.body():
            body += chunk
            if len(body) > _MAX_BODY:
                raise PayloadTooLarge("the advisories query is too large")
        query = body.decode("utf-8", "replace") if body else query
    names: dict[str, None] = {}
    for key, value in parse_qsl(query, keep_blank_values=False):
        if key == "packages" or (key.startswith("packages[") and key.endswith("]")):
            names[value.strip().lower()] = None
            if len(names) > MAX_NAMES:
                raise InvalidInput(f"at most {MAX_NAMES} packages per advisories query")
    return [n for n in names if naming_error(n) is None]


async def security_advisories(ctx: Context) -> Response:
    if (early := await _authenticated(ctx)) is not None:
        return early
    assert ctx.token is not None
    may_see = ctx.token.may_see
    names = [n for n in await _names(ctx) if may_see(n)]
    broker = ctx.broker
    store = AdvisoryStore(broker.ports.db, broker.clock)
    source = await broker.mirror.source()
    _private, mirrored = await broker.mirror.store.classify(names, source.id if source else None)
    origins = {n: (source.id if source is not None and n in mirrored else OPERATOR) for n in names}
    if source is not None and mirrored and source.upstream.get("advisories_url"):
        now = broker.clock.now()
        checked = await store.checked(source.id, sorted(mirrored))
        stale = [n for n in sorted(mirrored) if now - checked.get(n, 0) >= ADVISORY_TTL][:UPSTREAM_BATCH]
        if stale:
            ctx_sync = SyncContext.of(broker)
            try:
                found = await fetch_advisories(
                    ctx_sync.need_http(), str(source.upstream["advisories_url"]), stale, ctx_sync.guard(source.url)
                )
                await store.replace_upstream(source.id, stale, found)
            except BrokerError as exc:  # serve what was cached; the next query asks again
                log.warning("advisories from the mirror's upstream failed: %s", exc)
    found = await store.for_packages(names, origins)
    return json_response(200, {"advisories": found}, [("cache-control", "private, no-cache")])
