"""`/api/advisories`: the operator's security advisories for private packages, what `composer audit` reports
(the same records as `package-broker advisory add|list|remove`; a Worker has no CLI, so this is its way)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from ...advisories.record import InvalidAdvisory, operator_advisory
from ...advisories.store import Advisory, AdvisoryStore
from ...errors import NotFound
from .models import PAGING, Time, offset_page
from .routing import ApiCall, Route
from .schema import Doc, MaxLen, MinLen, ValidationFailed

Text = Annotated[str, MaxLen(4096)]


@dataclass(frozen=True, slots=True)
class AdvisoryInfo:
    id: Annotated[str, MaxLen(300), Doc("PKBSA-xxxx-xxxx-xxxx for the operator's")]
    package: Annotated[str, MaxLen(300)]
    origin: Annotated[str, MaxLen(100), Doc("'operator', or the mirror's source id for an upstream copy")]
    affected: Annotated[str, MaxLen(4096), Doc("The affected versions, a Composer constraint")] | None
    title: Text | None
    cve: Text | None
    link: Text | None
    severity: Text | None
    reported_at: Text | None
    created_at: Time


@dataclass(frozen=True, slots=True)
class AdvisoryPage:
    items: list[AdvisoryInfo]
    next: Annotated[str, MaxLen(300)] | None


@dataclass(frozen=True, slots=True)
class AdvisoryCreate:
    """An advisory for a private package; `composer audit` reports the installed versions it affects."""

    package: Annotated[str, MaxLen(300), MinLen(1), Doc("vendor/name")]
    affected: Annotated[str, MaxLen(1000), MinLen(1), Doc("A Composer constraint, e.g. '>=1.0,<1.2.3'")]
    title: Annotated[str, MaxLen(1000), Doc("What is wrong, in one line")]
    cve: Annotated[str, MaxLen(100)] | None = None
    link: Annotated[str, MaxLen(2000)] | None = None
    severity: Literal["low", "medium", "high", "critical"] | None = None


def _text(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) else None


def _info(found: Advisory) -> AdvisoryInfo:
    data = found.data
    return AdvisoryInfo(
        id=found.advisory_id,
        package=found.package,
        origin=found.origin,
        affected=_text(data, "affectedVersions"),
        title=_text(data, "title"),
        cve=_text(data, "cve"),
        link=_text(data, "link"),
        severity=_text(data, "severity"),
        reported_at=_text(data, "reportedAt"),
        created_at=found.created_at,
    )


def _store(call: ApiCall) -> AdvisoryStore:
    broker = call.ctx.broker
    return AdvisoryStore(broker.ports.db, broker.clock)


async def list_advisories(call: ApiCall) -> AdvisoryPage:
    package = call.query.get("package")
    found = await _store(call).list(package.lower() if package else None, operator_only=not call.query.get("all"))
    chosen, cursor = offset_page([_info(a) for a in found], call.query)
    return AdvisoryPage(chosen, cursor)


async def add_advisory(call: ApiCall) -> AdvisoryInfo:
    body: AdvisoryCreate = call.body
    try:
        name, data = operator_advisory(
            body.package,
            body.affected,
            body.title,
            cve=body.cve,
            link=body.link,
            severity=body.severity,
            now=call.ctx.broker.clock.now(),
        )
    except InvalidAdvisory as exc:
        raise ValidationFailed([{"field": f"body.{exc.field}", "message": exc.problem}]) from None
    return _info(await _store(call).add(name, data))


async def remove_advisory(call: ApiCall) -> None:
    advisory_id = call.params["advisory_id"]
    if not await _store(call).remove(advisory_id):
        raise NotFound(f"no advisory {advisory_id} was recorded here; see GET /api/advisories")


ROUTES = [
    Route(
        "GET",
        "/api/advisories",
        list_advisories,
        "The security advisories recorded for private packages",
        "advisories",
        role="viewer",
        response=AdvisoryPage,
        query={
            **PAGING,
            "package": (Annotated[str, MaxLen(300)], "Only this package's."),
            "all": (bool, "Also the advisories copied from a mirror's upstream."),
        },
    ),
    Route(
        "POST",
        "/api/advisories",
        add_advisory,
        "Record an advisory for a private package (composer audit reports it)",
        "advisories",
        body=AdvisoryCreate,
        response=AdvisoryInfo,
        status=201,
    ),
    Route(
        "DELETE",
        "/api/advisories/{advisory_id}",
        remove_advisory,
        "Remove a recorded advisory",
        "advisories",
        status=204,
    ),
]
