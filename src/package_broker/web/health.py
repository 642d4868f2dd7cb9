"""`/health` for load balancers and `docker run` checks, and `/` so a browser or curl sees what this is."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from .. import __version__
from ..ports.metered import unwrap
from . import dashboard
from .http import Response, json_response

if TYPE_CHECKING:
    from .app import Context

log = logging.getLogger("package_broker.health")


async def health(ctx: Context) -> Response:
    """Check each dependency; 200 when all answer, 503 (degraded) when any does not. Never shows secrets.

    An adapter that can tell why writes would fail (a full or read-only disk) is asked too: reads may still
    work then, but uploads and syncs would not. A source whose last sync failed makes the status
    "degraded" with the reason, but not a 503: what it served before is still served.
    """
    ports = ctx.broker.ports
    checks: dict[str, str] = {}
    problems: dict[str, str] = {}
    failed: dict[str, object] = {}

    async def database() -> None:
        # One query checks the database and counts the sources whose last sync failed (a call less on
        # Workers, where every D1 call counts against the invocation).
        row = await ports.db.fetch_one("SELECT COUNT(*) AS n FROM sources WHERE status = 'error' AND enabled = 1")
        failed.update(row or {})

    probes: dict[str, Callable[[], Awaitable[object]]] = {
        "database": database,
        "cache": lambda: ports.kv.get("health/probe"),
        "storage": lambda: ports.objects.head("health/probe"),
    }
    for name, probe in probes.items():
        try:
            await probe()
            checks[name] = "ok"
        except Exception as exc:  # any failure means degraded; details go to the log, not the response
            log.warning("health check %s failed: %s", name, type(exc).__name__)
            checks[name] = "error"
    for name, port in (("database", ports.db), ("storage", ports.objects)):
        ask = getattr(unwrap(port), "problem", None)
        if checks[name] == "ok" and ask is not None and (problem := await ask()):
            log.warning("health check %s: %s", name, problem)
            checks[name], problems[name] = "error", problem
    healthy = all(v == "ok" for v in checks.values())
    if checks["database"] == "ok":
        if int(str(failed.get("n") or 0)):
            # Serving still works (the last good metadata is served): degraded, but still 200 so a load
            # balancer keeps this instance. Which sources and why: `package-broker source list` (not public).
            problems["sync"] = f"{failed['n']} source(s) failed their last sync; see `package-broker source list`"
    body: dict[str, object] = {
        "status": "ok" if healthy and not problems else "degraded",
        "version": __version__,
        "runtime": ports.runtime,
        "checks": checks,
    }
    if problems:
        body["problems"] = problems
    return json_response(200 if healthy else 503, body, [("cache-control", "no-store")])


async def index(ctx: Context) -> Response:
    """A browser gets the dashboard; anything else (curl, scripts) what this is and how to use it, as JSON."""
    if dashboard.wants_html(ctx.request.headers.get("accept")):
        return await dashboard.page(ctx)
    base = ctx.base_url
    return json_response(
        200,
        {
            "name": "PACKAGE.broker",
            "version": __version__,
            "composer": {
                "repository": base,
                "setup": [
                    f"composer config repositories.package-broker composer {base}",
                    f"composer config http-basic.{ctx.request.host} token <your-token>",
                    # Composer refuses plain-HTTP repositories unless told otherwise.
                    *(["composer config secure-http false"] if base.startswith("http://") else []),
                ],
            },
            "health": f"{base}/health",
        },
        [("vary", "Accept")],
    )
