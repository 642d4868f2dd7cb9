"""The sync job: run by the Worker's Cron Trigger, the server's scheduler, `package-broker sync` and
`POST /api/sync`. One code path for all four.

Each source is synced under a lease (two syncs of one source never overlap). A failing source records
its error and keeps serving its last good metadata; the others carry on.
"""

from __future__ import annotations

import logging
import time

from ..broker import Broker
from ..errors import BrokerError
from ..sources.composer_repo import ComposerRepositorySync
from ..sources.git import GitSync
from ..sources.report import SyncReport
from ..sources.store import Source

log = logging.getLogger("package_broker.sync")


async def sync_source(broker: Broker, source: Source, *, budget_seconds: float | None = None) -> SyncReport:
    """Sync one source and record the outcome on it. `budget_seconds` bounds slow work (downloads)."""
    if source.kind == "artifact":
        return SyncReport(source.id, "ok", "uploads need no sync")
    if not await broker.sources.acquire(source.id):
        return SyncReport(source.id, "busy", "another sync of this source is running")
    try:
        if source.kind == "git":
            if broker.ports.git is None:
                raise BrokerError(
                    f"plain git sources need the git command line, which the {broker.ports.runtime} runtime does "
                    "not have; sync this source from a self-hosted server"
                )
            report = await GitSync(broker, source, broker.ports.git).run()
        elif source.kind == "composer":
            if broker.ports.http is None:
                raise BrokerError(f"the {broker.ports.runtime} runtime has no HTTP client")
            report = await ComposerRepositorySync(broker, source, broker.ports.http, budget_seconds).run()
        else:
            raise BrokerError(f"source kind {source.kind!r} cannot be synced by this version")
    except BrokerError as exc:
        report = SyncReport(source.id, "error", str(exc))
    except Exception as exc:
        log.exception("sync of %s failed", source.id)
        report = SyncReport(source.id, "error", f"internal error ({type(exc).__name__}); see the server log")
    await broker.sources.finish(source.id, report.status, report.message)
    return report


async def sync_all(broker: Broker, source_ids: list[str] | None = None) -> list[SyncReport]:
    """Sync the given sources (default: all of them) one after another and log one summary line."""
    started = time.perf_counter()
    sources = [await broker.sources.get(i) for i in source_ids] if source_ids else await broker.sources.all()
    reports = [await sync_source(broker, source) for source in sources]
    log.info(
        "sync finished",
        extra={
            "event": "sync",
            "sources": len(reports),
            "changed": sum(r.changed for r in reports),
            "errors": sum(r.status == "error" for r in reports),
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
        },
    )
    return reports


async def sync_due(broker: Broker, interval: int, *, budget_seconds: float | None = None) -> list[SyncReport]:
    """Sync the sources not synced for `interval` seconds (never-synced first), within a time budget.

    Used by the scheduler and the Worker's cron: several processes may call it at once, and a bounded
    budget keeps one cron invocation inside a Worker's limits; the rest is picked up by the next run.
    """
    started = time.perf_counter()
    cutoff = broker.clock.now() - max(interval - 5, 0)
    rows = await broker.ports.db.fetch_all(
        "SELECT id FROM sources WHERE kind <> 'artifact' AND (last_synced_at IS NULL OR last_synced_at <= ?) "
        "ORDER BY last_synced_at IS NOT NULL, last_synced_at, id",
        (cutoff,),
    )
    reports = []
    for row in rows:
        remaining = None if budget_seconds is None else budget_seconds - (time.perf_counter() - started)
        if remaining is not None and remaining <= 0:
            break
        reports.append(await sync_source(broker, await broker.sources.get(row["id"]), budget_seconds=remaining))
    # One line per run, also when nothing was due: it shows the schedule is alive.
    log.info(
        "scheduled sync finished",
        extra={
            "event": "sync",
            "sources": len(reports),
            "due": len(rows),
            "changed": sum(r.changed for r in reports),
            "errors": sum(r.status == "error" for r in reports),
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
        },
    )
    return reports
