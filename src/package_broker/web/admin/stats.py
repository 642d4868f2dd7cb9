"""`/api/stats`: the numbers on the dashboard's front page, in one round trip to the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from .routing import ApiCall, Route
from .schema import Doc


@dataclass(frozen=True, slots=True)
class Stats:
    packages: int
    versions: Annotated[int, Doc("Tags and branches served")]
    sources: Annotated[dict[str, int], Doc("Sources by status (disabled ones under 'disabled'); uploads excluded")]
    tokens_active: Annotated[int, Doc("Neither revoked nor expired")]
    downloads_total: int
    downloads_30_days: int
    storage_bytes: Annotated[int, Doc("Bytes of stored dist archives")]


async def stats(call: ApiCall) -> Stats:
    broker = call.ctx.broker
    now = broker.clock.now()
    since = datetime.fromtimestamp(now - 30 * 86400, UTC).strftime("%Y-%m-%d")
    packages, versions, sources, tokens, downloads, storage = await broker.ports.db.fetch_many(
        [
            ("SELECT COUNT(*) AS n FROM packages", ()),
            ("SELECT COUNT(*) AS n FROM versions", ()),
            (
                "SELECT CASE WHEN enabled = 1 THEN status ELSE 'disabled' END AS state, COUNT(*) AS n FROM sources "
                "WHERE kind <> 'artifact' GROUP BY CASE WHEN enabled = 1 THEN status ELSE 'disabled' END",
                (),
            ),
            (
                "SELECT COUNT(*) AS n FROM tokens WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)",
                (now,),
            ),
            (
                "SELECT COALESCE(SUM(count), 0) AS total, "
                "COALESCE(SUM(CASE WHEN day >= ? THEN count ELSE 0 END), 0) AS recent FROM downloads",
                (since,),
            ),
            ("SELECT COALESCE(SUM(size), 0) AS n FROM dists", ()),
        ]
    )
    return Stats(
        packages=int(packages[0]["n"]),
        versions=int(versions[0]["n"]),
        sources={str(row["state"]): int(row["n"]) for row in sources},
        tokens_active=int(tokens[0]["n"]),
        downloads_total=int(downloads[0]["total"]),
        downloads_30_days=int(downloads[0]["recent"]),
        storage_bytes=int(storage[0]["n"]),
    )


ROUTES = [Route("GET", "/api/stats", stats, "Counts for the dashboard", "stats", role="viewer", response=Stats)]
