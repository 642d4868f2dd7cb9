"""An operator's advisory, checked and shaped as Composer reads it: one code path for `package-broker advisory
add` and `POST /api/advisories`, so both refuse the same input and store the same fields."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ..composer.constraints import parse_constraints
from ..composer.names import naming_error
from ..errors import BrokerError, InvalidInput

SEVERITIES = ("low", "medium", "high", "critical")


class InvalidAdvisory(InvalidInput):
    """One field of a new advisory is unusable: `field` names it (package, affected, severity), `problem`
    says why, so the CLI and the API can each word it their own way."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


def operator_advisory(
    package: str,
    affected: str,
    title: str,
    *,
    cve: str | None = None,
    link: str | None = None,
    severity: str | None = None,
    now: int | None = None,
) -> tuple[str, dict[str, Any]]:
    """The package's (lower-cased) name and the advisory's data for `AdvisoryStore.add`.

    Raises:
        InvalidAdvisory: the name is not a Composer package name, `affected` is not a Composer constraint,
            or the severity is not one Composer knows.
    """
    name = package.lower()
    if (problem := naming_error(name)) is not None:
        raise InvalidAdvisory("package", problem)
    try:
        parse_constraints(affected)
    except BrokerError as exc:
        raise InvalidAdvisory("affected", str(exc)) from None
    if severity is not None and severity not in SEVERITIES:
        raise InvalidAdvisory("severity", f"is one of {', '.join(SEVERITIES)}")
    moment = datetime.now(UTC) if now is None else datetime.fromtimestamp(now, UTC)
    return name, {
        "title": title,
        "affectedVersions": affected,
        "reportedAt": moment.strftime("%Y-%m-%d %H:%M:%S"),
        "sources": [{"name": "PACKAGE.broker", "remoteId": name}],
        "cve": cve,
        "link": link,
        "severity": severity,
        "composerRepository": None,
        "remoteId": None,
        "source": "PACKAGE.broker",
    }
