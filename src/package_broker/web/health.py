"""`/health` for load balancers and `docker run` checks, and `/` so a browser or curl sees what this is."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from .. import __version__
from .http import Response, json_response

if TYPE_CHECKING:
    from .app import Context

log = logging.getLogger("package_broker.health")


async def health(ctx: Context) -> Response:
    """Check each dependency; 200 when all answer, 503 (degraded) when any does not. Never shows secrets."""
    ports = ctx.broker.ports
    checks: dict[str, str] = {}
    probes: dict[str, Callable[[], Awaitable[object]]] = {
        "database": lambda: ports.db.fetch_one("SELECT 1 AS ok"),
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
    healthy = all(v == "ok" for v in checks.values())
    body = {
        "status": "ok" if healthy else "degraded",
        "version": __version__,
        "runtime": ports.runtime,
        "checks": checks,
    }
    return json_response(200 if healthy else 503, body, [("cache-control", "no-store")])


async def index(ctx: Context) -> Response:
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
                ],
            },
            "health": f"{base}/health",
        },
    )
