"""Models and helpers more than one resource of the admin API uses: the error body, paging, common fields."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from .schema import Doc, MaxLen, Range, ValidationFailed

#: `?limit=`: how many items a page holds.
Limit = Annotated[int, Range(1, 200)]
#: `?cursor=`: where the next page starts (the `next` of the previous page), opaque to the client.
Cursor = Annotated[str, MaxLen(300)]
#: Times are Unix seconds.
Time = Annotated[int, Doc("Unix time (seconds)")]

PAGING: dict[str, tuple[Any, str]] = {
    "limit": (Limit, "How many items to return (1-200, default 50)."),
    "cursor": (Cursor, "The `next` value of the previous page."),
}
DEFAULT_LIMIT = 50


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One field that failed validation."""

    field: Annotated[str, MaxLen(300), Doc("Where: body.name, query.limit, path.source_id, ...")]
    message: Annotated[str, MaxLen(2000)]


@dataclass(frozen=True, slots=True)
class ErrorBody:
    """Every error the API answers, whatever its status: `error` is the HTTP reason phrase, `message` says what
    went wrong and what to do. Nothing internal (SQL, driver or Python text) is ever in it."""

    error: Annotated[str, MaxLen(100)]
    message: Annotated[str, MaxLen(4000)]
    warning: Annotated[str, MaxLen(4000)] | None = None
    reason: Annotated[str, MaxLen(100), Doc("Why access was refused (missing, expired, forbidden, ...)")] | None = None
    request_id: Annotated[str, MaxLen(100), Doc("Quote it when asking an operator: the log has the detail")] | None = (
        None
    )
    errors: list[FieldProblem] | None = None
    totp_required: Annotated[bool, Doc("Login: the password was right, a TOTP or recovery code is needed")] | None = (
        None
    )


def page_limit(query: dict[str, Any]) -> int:
    return int(query.get("limit", DEFAULT_LIMIT))


def offset_of(query: dict[str, Any]) -> int:
    """An offset cursor (for short lists: sources, tokens). One this API did not hand out is refused rather
    than read as the first page, so a client cannot loop over the same page for ever."""
    cursor = str(query.get("cursor") or "")
    if not cursor:
        return 0
    if not cursor.isdigit() or len(cursor) > 9:
        raise bad_cursor()
    return int(cursor)


def bad_cursor() -> ValidationFailed:
    return ValidationFailed([{"field": "query.cursor", "message": "is not the `next` of a page of this list"}])


def offset_page(items: list[Any], query: dict[str, Any]) -> tuple[list[Any], str | None]:
    """One page of an in-memory list and the cursor of the next page (None: this is the last)."""
    start, limit = offset_of(query), page_limit(query)
    chosen = items[start : start + limit]
    return chosen, str(start + limit) if start + limit < len(items) else None
