"""`/api/sources`: list, inspect, add, edit, remove and sync package sources; webhook secrets.

Credentials are write-only: a body may carry a token or a password, the answer only says `has_credentials`.
A provider source's webhook secret is in the answer that made it (add, or a new one), and never again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from ...catalog.admin import remove_source
from ...catalog.store import PUBLIC_URL
from ...errors import InvalidInput
from ...sources import admin as core
from ...sources.credentials import Credentials
from ...sources.job import sync_all
from ...sources.report import SyncReport
from ...sources.store import Source
from .models import PAGING, Time, offset_page
from .routing import ApiCall, Route
from .schema import UNSET, Doc, MaxLen, MinLen, Range, Unset

SourceKindName = Literal["git", "composer", "github", "gitlab", "bitbucket", "gitea", "artifact"]
Secret = Annotated[str, MaxLen(4096), MinLen(1)]


@dataclass(frozen=True, slots=True)
class ServedPackage:
    name: Annotated[str, MaxLen(300)]
    versions: int


@dataclass(frozen=True, slots=True)
class SourceSummary:
    """A source as listed: never its credentials, nor its webhook secret."""

    id: Annotated[str, MaxLen(100)]
    kind: SourceKindName
    url: Annotated[str, MaxLen(4000), Doc("The upstream (no credentials: those are stored encrypted apart)")]
    status: Annotated[str, MaxLen(40), Doc("pending, ok, error, partial (a sync continues where it stopped)")]
    status_message: Annotated[str, MaxLen(10000)] | None
    enabled: Annotated[bool, Doc("False: the scheduler skips it; what it serves stays served")]
    last_synced_at: Time | None
    sync_interval: Annotated[int | None, Doc("Seconds between scheduled syncs; null: SYNC_INTERVAL")]
    has_credentials: bool
    webhook_path: Annotated[str, MaxLen(300)] | None
    packages: Annotated[int, Doc("How many packages it serves")]
    created_at: Time
    updated_at: Time


@dataclass(frozen=True, slots=True)
class SourcePage:
    items: list[SourceSummary]
    next: Annotated[str, MaxLen(300)] | None


@dataclass(frozen=True, slots=True)
class RefInfo:
    """What the last sync saw of one tag, branch or upstream file."""

    ref: Annotated[str, MaxLen(1000)]
    status: Annotated[str, MaxLen(20), Doc("ok or skipped")]
    reason: Annotated[str, MaxLen(10000)] | None
    commit: Annotated[str, MaxLen(100)] | None
    package: Annotated[str, MaxLen(300)] | None
    version_normalized: Annotated[str, MaxLen(300)] | None


@dataclass(frozen=True, slots=True)
class SyncEvent:
    """A sync asked for by hand (API, CLI, CI token, webhook), of this source or of every source, from the audit
    log. Every sync's outcome, scheduled ones included, is in `SourceDetail.runs`."""

    at: Time
    actor: Annotated[str, MaxLen(300)]


@dataclass(frozen=True, slots=True)
class SyncRun:
    """One sync of this source (scheduled, manual or from a webhook) and its outcome."""

    started_at: Time
    finished_at: Time
    status: Annotated[str, MaxLen(20), Doc("ok, partial or error")]
    message: Annotated[str, MaxLen(1000)] | None


@dataclass(frozen=True, slots=True)
class SourceDetail:
    source: SourceSummary
    served: Annotated[list[ServedPackage], MaxLen(10000)]
    refs_read: int
    refs_skipped: int
    refs: Annotated[list[RefInfo], MaxLen(2000), Doc("Skipped refs first, then the rest (at most 2000)")]
    history: Annotated[list[SyncEvent], MaxLen(50), Doc("The newest manual syncs of this source")]
    runs: Annotated[list[SyncRun], MaxLen(50), Doc("The newest syncs of this source and their outcomes, newest first")]


@dataclass(frozen=True, slots=True)
class SourceCreate:
    """A new source. git/composer: `url`; github/gitlab/bitbucket/gitea: `repository` (OWNER/REPO). Credentials
    (`token`, or `username` and `password`) are stored encrypted and never returned."""

    kind: Literal["git", "composer", "github", "gitlab", "bitbucket", "gitea"]
    url: Annotated[str, MaxLen(2000), MinLen(1), Doc("git or composer: the repository URL")] | None = None
    repository: Annotated[str, MaxLen(300), MinLen(1), Doc("provider kinds: OWNER/REPO or GROUP/PROJECT")] | None = None
    api_url: Annotated[str, MaxLen(2000), Doc("provider kinds: a self-hosted installation's API")] | None = None
    packages: Annotated[list[Annotated[str, MaxLen(300)]], MaxLen(200)] | None = None
    subdirectory: Annotated[str, MaxLen(500), Doc("the package's directory in a monorepo")] | None = None
    username: Annotated[str, MaxLen(300)] | None = None
    password: Secret | None = None
    token: Secret | None = None
    sync: Annotated[bool, Doc("Sync it now and report (else the next scheduled sync reads it)")] = False


@dataclass(frozen=True, slots=True)
class Webhook:
    """Where the provider should call, and the secret it signs with: shown only in this answer."""

    url: Annotated[str, MaxLen(2000)]
    secret: Annotated[str, MaxLen(200)]


@dataclass(frozen=True, slots=True)
class Report:
    """What one sync of one source did."""

    source_id: Annotated[str, MaxLen(100)]
    status: Annotated[str, MaxLen(20), Doc("ok, error, busy (another sync runs), partial (continues later)")]
    message: Annotated[str, MaxLen(10000)] | None
    package: Annotated[str, MaxLen(300)] | None
    versions: int
    changed: bool


@dataclass(frozen=True, slots=True)
class SourceCreated:
    source: SourceSummary
    webhook: Webhook | None
    sync: Report | None


@dataclass(frozen=True, slots=True)
class SourceEdit:
    """Fields left out stay as they are. New credentials replace the old ones; `forget_credentials` drops them."""

    url: Annotated[str, MaxLen(2000), MinLen(1)] | Unset = UNSET
    username: Annotated[str, MaxLen(300)] | None | Unset = UNSET
    password: Secret | Unset = UNSET
    token: Secret | Unset = UNSET
    forget_credentials: bool = False
    sync_interval: Annotated[int, Range(60, 31_536_000)] | Unset = UNSET
    enabled: bool | Unset = UNSET


@dataclass(frozen=True, slots=True)
class SyncResult:
    reports: list[Report]


@dataclass(frozen=True, slots=True)
class Removed:
    id: Annotated[str, MaxLen(100)]
    no_longer_served: Annotated[list[Annotated[str, MaxLen(300)]], MaxLen(100000)]
    archives_deleted: bool


def summary(source: Source, packages: int) -> SourceSummary:
    return SourceSummary(
        id=source.id,
        kind=source.kind,  # type: ignore[arg-type]
        url=source.url,
        status=source.status,
        status_message=source.status_message,
        enabled=source.enabled,
        last_synced_at=source.last_synced_at,
        sync_interval=source.sync_interval,
        has_credentials=source.credentials is not None,
        webhook_path=core.webhook_path(source),
        packages=packages,
        created_at=source.created_at,
        updated_at=source.updated_at,
    )


def report_of(report: SyncReport) -> Report:
    return Report(report.source_id, report.status, report.message, report.package, report.versions, report.changed)


async def _one_summary(call: ApiCall, source: Source) -> SourceSummary:
    served = await core.served(call.ctx.broker, source.id)
    return summary(source, len(served.get(source.id, [])))


async def list_sources(call: ApiCall) -> SourcePage:
    broker = call.ctx.broker
    found, served = await broker.sources.all(), await core.served(broker)
    status = call.query.get("status")
    if status:
        found = [s for s in found if (s.status if s.enabled else "disabled") == status]
    chosen, cursor = offset_page(found, call.query)
    return SourcePage([summary(s, len(served.get(s.id, []))) for s in chosen], cursor)


async def show_source(call: ApiCall) -> SourceDetail:
    broker = call.ctx.broker
    source_id = call.params["source_id"]
    found = await broker.sources.get(source_id)
    refs = sorted((await broker.sources.refs(source_id)).values(), key=lambda r: (r["status"] == "ok", str(r["ref"])))
    served = (await core.served(broker, source_id)).get(source_id, [])
    history = await broker.audit.entries(action="source.synced", limit=200)
    return SourceDetail(
        source=summary(found, len(served)),
        served=[ServedPackage(name, count) for name, count in served],
        refs_read=len(refs),
        refs_skipped=sum(1 for r in refs if r["status"] != "ok"),
        refs=[
            RefInfo(
                str(r["ref"]),
                str(r["status"]),
                r["reason"],
                r["commit_sha"] or None,
                r["package"],
                r["version_normalized"],
            )
            for r in refs[:2000]
        ],
        history=[
            SyncEvent(e.at, e.actor)
            for e in history
            if e.target == source_id
            or (e.details or {}).get("all")
            or source_id in ((e.details or {}).get("sources") or [])
        ][:50],
        runs=[_run(run) for run in found.history()],
    )


def _run(run: dict[str, Any]) -> SyncRun:
    message = run.get("message")
    return SyncRun(
        int(run.get("started_at") or 0),
        int(run.get("finished_at") or 0),
        str(run.get("status") or "")[:20],
        str(message)[:1000] if message else None,
    )


async def _base(call: ApiCall) -> str:
    broker = call.ctx.broker
    return broker.settings.base_url or await broker.catalog.state_text(PUBLIC_URL) or call.ctx.base_url


async def add_source(call: ApiCall) -> SourceCreated:
    body: SourceCreate = call.body
    provider = body.kind not in ("git", "composer")
    target = body.repository if provider else body.url
    if not target:
        raise InvalidInput(f"a {body.kind} source needs " + ("`repository` (OWNER/REPO)" if provider else "`url`"))
    if (body.repository if not provider else body.url) is not None:
        raise InvalidInput(f"a {body.kind} source takes " + ("`repository`, not `url`" if provider else "`url`"))
    broker = call.ctx.broker
    added = await core.add_source(
        broker,
        body.kind,
        target,
        Credentials(token=body.token, username=body.username, password=body.password),
        packages=body.packages,
        api_url=body.api_url,
        subdirectory=body.subdirectory,
    )
    report = None
    if body.sync:
        (report,) = await sync_all(broker, [added.source.id])
    source = await broker.sources.get(added.source.id)
    webhook = None
    if added.webhook_secret is not None and (path := core.webhook_path(source)) is not None:
        webhook = Webhook(f"{await _base(call)}{path}", added.webhook_secret)
    return SourceCreated(await _one_summary(call, source), webhook, report_of(report) if report else None)


async def edit_source(call: ApiCall) -> SourceSummary:
    body: SourceEdit = call.body
    broker = call.ctx.broker
    source_id = call.params["source_id"]
    found = await broker.sources.get(source_id)
    values: dict[str, str] | None = None
    url = None if body.url is UNSET else body.url
    if url is not None:
        url, inline = core.split_credentials(url)
        if inline:
            values = {"username": inline[0], "password": inline[1]}
    if body.password is not UNSET:
        username = body.username if isinstance(body.username, str) else None
        values = {"username": username, "password": body.password} if username else {"token": body.password}
    if body.token is not UNSET:
        values = {"token": body.token}
    if values is not None and body.forget_credentials:
        raise InvalidInput("forget_credentials and new credentials contradict each other")
    if found.kind == "artifact":
        raise InvalidInput("the uploads source has nothing to edit; manage its packages under /api/packages")
    sealed = await broker.seal_credentials(values) if values else None
    edited = await broker.sources.update(
        source_id,
        url=url,
        credentials=sealed,
        forget_credentials=body.forget_credentials,
        sync_interval=None if body.sync_interval is UNSET else body.sync_interval,
        enabled=None if body.enabled is UNSET else body.enabled,
    )
    return await _one_summary(call, edited)


async def delete_source(call: ApiCall) -> Removed:
    purge = bool(call.query.get("purge", False))
    names = await remove_source(call.ctx.broker, call.params["source_id"], purge=purge)
    return Removed(call.params["source_id"], names, purge)


async def sync_source(call: ApiCall) -> SyncResult:
    broker = call.ctx.broker
    await broker.sources.get(call.params["source_id"])  # 404 before anything is recorded
    reports = await sync_all(broker, [call.params["source_id"]])
    return SyncResult([report_of(r) for r in reports])


async def sync_every_source(call: ApiCall) -> SyncResult:
    reports = await sync_all(call.ctx.broker)
    return SyncResult([report_of(r) for r in reports])


async def new_webhook(call: ApiCall) -> Webhook:
    found, secret = await core.renew_webhook(call.ctx.broker, call.params["source_id"])
    path = core.webhook_path(found)
    assert path is not None
    return Webhook(f"{await _base(call)}{path}", secret)


async def _set_enabled(call: ApiCall, enabled: bool) -> SourceSummary:
    broker = call.ctx.broker
    return await _one_summary(call, await broker.sources.update(call.params["source_id"], enabled=enabled))


async def enable_source(call: ApiCall) -> SourceSummary:
    return await _set_enabled(call, True)


async def disable_source(call: ApiCall) -> SourceSummary:
    return await _set_enabled(call, False)


_ONE = "/api/sources/{source_id}"
_STATUS: Any = Literal["pending", "ok", "error", "partial", "disabled"]

ROUTES = [
    Route(
        "GET",
        "/api/sources",
        list_sources,
        "List sources with their sync status",
        "sources",
        role="viewer",
        response=SourcePage,
        query={**PAGING, "status": (_STATUS, "Only sources in this state (disabled: not scheduled).")},
    ),
    Route(
        "POST",
        "/api/sources",
        add_source,
        "Add a source (credentials write-only; a provider source's webhook secret is shown once)",
        "sources",
        body=SourceCreate,
        response=SourceCreated,
        status=201,
        errors=(409,),
    ),
    Route(
        "POST",
        "/api/sources/sync",
        sync_every_source,
        "Sync every source now and report per source",
        "sources",
        response=SyncResult,
    ),
    Route(
        "GET",
        _ONE,
        show_source,
        "One source: status, what it serves, refs read and skipped (and why), manual sync history",
        "sources",
        role="viewer",
        response=SourceDetail,
    ),
    Route(
        "PATCH",
        _ONE,
        edit_source,
        "Change a source's URL, credentials, interval or enabled flag",
        "sources",
        body=SourceEdit,
        response=SourceSummary,
        errors=(409,),
    ),
    Route(
        "DELETE",
        _ONE,
        delete_source,
        "Remove a source (archives stay downloadable unless purge=true)",
        "sources",
        response=Removed,
        query={"purge": (bool, "Delete its archives too: composer.lock files naming them stop installing.")},
    ),
    Route("POST", f"{_ONE}/sync", sync_source, "Sync this source now", "sources", response=SyncResult),
    Route(
        "POST",
        f"{_ONE}/webhook",
        new_webhook,
        "Give a provider source a new webhook secret (shown once; the old one stops working)",
        "sources",
        response=Webhook,
    ),
    Route("POST", f"{_ONE}/enable", enable_source, "Schedule syncs again", "sources", response=SourceSummary),
    Route(
        "POST",
        f"{_ONE}/disable",
        disable_source,
        "Stop scheduled syncs (what it serves stays served)",
        "sources",
        response=SourceSummary,
    ),
]
