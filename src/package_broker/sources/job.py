"""The sync job: run by the Worker's Cron Trigger, the server's scheduler, `package-broker sync`,
`POST /api/sync` and push webhooks. One code path for all of them; what a sync does is the source kind's
(sources/kinds.py).

Each source is synced under a lease (two syncs of one source never overlap). A failing source records
its error and keeps serving its last good metadata; the others carry on. Every run stays within the
invocation's budget (package_broker.budget): a source whose sync runs out of it is recorded as
"partial" and continued by the next run, and the outcome is always recorded, from calls held in reserve.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from contextlib import AbstractContextManager

from .. import budget
from ..broker import Broker
from ..errors import BrokerError
from .context import SyncContext
from .kinds import kind_of
from .report import SyncReport
from .store import LEASE_SECONDS, Lease, Source

log = logging.getLogger("package_broker.sync")


async def sync_source(broker: Broker, source: Source) -> SyncReport:
    """Sync one source within the current budget and record the outcome on it."""
    kind = kind_of(source)
    if kind.sync is None:
        return SyncReport(source.id, "ok", f"{kind.title} need no sync")
    if not budget.current().affords(services=2):  # the lease, and the outcome from the reserve
        return SyncReport(source.id, "partial", "this run's budget ran out before this source; the next run syncs it")
    lease = await broker.sources.acquire(source.id)
    if lease is None:
        return await _busy(broker, source.id)
    report = SyncReport(source.id, "error", "the sync was interrupted")
    started_at = broker.clock.now()
    keeper = asyncio.create_task(_keep(broker, lease))
    try:
        report = await kind.sync(SyncContext.of(broker), source)
    except budget.BudgetExhausted as exc:
        report = SyncReport(source.id, "partial", str(exc), cursor=source.sync_cursor)
    except BrokerError as exc:
        report = SyncReport(source.id, "error", str(exc))
    except Exception as exc:
        log.exception("sync of %s failed", source.id)
        report = SyncReport(source.id, "error", f"internal error ({type(exc).__name__}); see the server log")
    finally:
        keeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keeper
        # The history starts from the row this sync was given: a run another process finished between that
        # read and our lease is left out (rare, and costs nothing but that line of history).
        history = source.history_with(started_at, broker.clock.now(), report.status, report.message)
        await _record(broker, lease, report, history)
    if report.status == "error":
        log.warning("sync of %s (%s %s) failed: %s", source.id, source.kind, source.url, report.message)
    return report


async def _busy(broker: Broker, source_id: str) -> SyncReport:
    row = await broker.ports.db.fetch_one("SELECT sync_started_at FROM sources WHERE id = ?", (source_id,))
    renewed = row["sync_started_at"] if row else None
    since = "" if renewed is None else f" (its lease was renewed {broker.clock.now() - int(renewed)} s ago)"
    return SyncReport(
        source_id,
        "busy",
        f"another sync of this source is running{since}; a sync that died is taken over after {LEASE_SECONDS} s",
    )


async def _keep(broker: Broker, lease: Lease) -> None:
    """Renew the lease while the sync runs, so that only a dead sync's lease lapses."""
    while True:
        await asyncio.sleep(LEASE_SECONDS / 3)
        try:
            if not await broker.sources.renew(lease):
                log.warning("sync of %s lost its lease: another sync took the source over", lease.source_id)
                return
        except BrokerError as exc:  # out of budget, database blip: the next renewal may work
            log.warning("could not renew the sync lease of %s: %s", lease.source_id, exc)


async def _record(broker: Broker, lease: Lease, report: SyncReport, history: str) -> None:
    """Record the outcome (and the source's sync history) and release the lease, from the calls the budget
    holds in reserve."""
    with budget.current().releasing_reserve():
        try:
            if not await broker.sources.finish(lease, report.status, report.message, report.cursor, history):
                log.warning("sync of %s ended after another sync took its lease: outcome not recorded", lease.source_id)
        except BrokerError as exc:
            log.error(
                "could not record the sync of %s (%s): %s; its lease expires within %d s",
                lease.source_id,
                report.status,
                exc,
                LEASE_SECONDS,
            )


def _summary(reports: list[SyncReport], started: float, **extra: int) -> dict[str, object]:
    spent = budget.current()
    return {
        "event": "sync",
        "sources": len(reports),
        **extra,
        "changed": sum(r.changed for r in reports),
        "errors": sum(r.status == "error" for r in reports),
        "partial": sum(r.status == "partial" for r in reports),
        "subrequests": spent.used_fetches,
        "service_calls": spent.used_services,
        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
    }


async def sync_all(
    broker: Broker,
    source_ids: list[str] | None = None,
    *,
    budget_seconds: float | None = None,
    progress: Callable[[Source, int], AbstractContextManager[Callable[[Source], None]]] | None = None,
) -> list[SyncReport]:
    """Sync the given sources (default: all of them) one after another and log one summary line.

    `progress(first, count)`, if given, opens a progress display (the CLI's bar on a terminal) and returns a
    callback told each source as it starts.
    """
    started = time.perf_counter()
    with budget.within(budget_seconds):
        sources = [await broker.sources.get(i) for i in source_ids] if source_ids else await broker.sources.all()
        # A sync asked for (CLI, API, webhook) is an administrative action; the scheduled one (sync_due) is not.
        ids = [s.id for s in sources]
        details = {"sources": ids} if source_ids and len(ids) > 1 else {"all": True, "count": len(ids)}
        await broker.audit.log(None, "source.synced", ids[0] if source_ids and len(ids) == 1 else None, details=details)
        reports = []
        with progress(sources[0], len(sources)) if progress and sources else contextlib.nullcontext(None) as step:
            for source in sources:
                if step is not None:
                    step(source)
                reports.append(await sync_source(broker, source))
        log.info("sync finished", extra=_summary(reports, started))
    return reports


async def _purge_audit(broker: Broker) -> None:
    """AUDIT_RETENTION_DAYS: one DELETE at most once a day per process, if the run's budget still affords it."""
    if not budget.current().affords(services=1):
        return  # the next run purges
    try:
        await broker.audit.purge_expired()
    except BrokerError as exc:  # never worth failing the scheduled run for
        log.warning("audit log purge failed: %s", exc)


async def sync_due(broker: Broker, interval: int, *, budget_seconds: float | None = None) -> list[SyncReport]:
    """Sync the sources that are due (unfinished passes first, then never synced, then the oldest), within
    the budget; the rest is picked up by the next run.

    Used by the scheduler and the Worker's cron: several processes may call it at once (leases keep them
    apart), and the budget keeps one cron invocation inside a Worker's limits.
    """
    started = time.perf_counter()
    with budget.within(budget_seconds):
        due = await broker.sources.due(interval)
        reports = []
        for source in due:
            report = await sync_source(broker, source)
            reports.append(report)
            if report.status == "partial" and not budget.current().affords(fetches=1, services=2):
                break  # the budget is spent: the next run continues with this source
            # (A source that stopped for its own reason, such as a provider's rate limit, does not hold up
            # the sources after it.)
        # One line per run, also when nothing was due: it shows the schedule is alive.
        log.info("scheduled sync finished", extra=_summary(reports, started, due=len(due)))
        await _purge_audit(broker)
    return reports
