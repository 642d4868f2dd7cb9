"""`/api/audit`: the audit log, newest first, filtered by actor, action and time, paged by entry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from .models import PAGING, Time, bad_cursor, page_limit
from .routing import ApiCall, Route
from .schema import Doc, MaxLen


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: Annotated[str, MaxLen(100)]
    at: Time
    actor: Annotated[str, MaxLen(300), Doc("tok_... (a token), user:NAME, cli:LOGIN, webhook:PROVIDER, system")]
    action: Annotated[str, MaxLen(100), Doc("token.created, source.added, package.deleted, ...")]
    target: Annotated[str, MaxLen(1000)] | None
    address: Annotated[str, MaxLen(100)] | None
    details: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class AuditPage:
    items: list[AuditEntry]
    next: Annotated[str, MaxLen(300)] | None


async def list_entries(call: ApiCall) -> AuditPage:
    audit = call.ctx.broker.audit
    limit = page_limit(call.query)
    cursor = call.query.get("cursor")
    before = await audit.get(cursor) if cursor else None
    if cursor and before is None:
        raise bad_cursor()  # an entry since purged, or not a cursor at all
    found = await audit.entries(
        since=call.query.get("since"),
        action=call.query.get("action") or None,
        actor=call.query.get("actor") or None,
        limit=limit + 1,
        before=before,
    )
    items = [AuditEntry(e.id, e.at, e.actor, e.action, e.target, e.address, e.details) for e in found[:limit]]
    return AuditPage(items, items[-1].id if len(found) > limit else None)


ROUTES = [
    Route(
        "GET",
        "/api/audit",
        list_entries,
        "The audit log, newest first",
        "audit",
        role="viewer",
        response=AuditPage,
        query={
            "actor": (Annotated[str, MaxLen(300)], "Only this actor (user:alice, tok_..., cli:root)."),
            "action": (Annotated[str, MaxLen(100)], "Only this action, or a family with a trailing dot (token.)."),
            "since": (int, "Only entries at or after this Unix time."),
            **PAGING,
        },
    )
]
