"""The admin API's route table: one `Route` per method and path template, declared by each resource module.

A route says who may call it (`role`), what body it takes and what it answers (dataclass models, see
schema.py); the dispatcher authenticates the caller, validates the body and the path parameters, and calls
the handler with an `ApiCall`. The OpenAPI document is built from the same table, so it cannot drift.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from ...accounts import User
    from ..app import Context
    from ..http import Response

#: Who may call a route: anyone (login, first-run setup), any signed-in user, or an admin.
Role = Literal["public", "viewer", "admin"]


@dataclass(slots=True)
class ApiCall:
    """What a handler gets: the request context, the path parameters, the signed-in user, the parsed body."""

    ctx: Context
    #: Path parameters from the route's template, e.g. {"source_id": "src_1a2b3c4d5e"}.
    params: dict[str, str]
    #: None only on "public" routes.
    user: User | None
    #: An instance of the route's `body` model, validated; None when the route takes no body.
    body: Any = None
    #: The route's query parameters that were given, parsed to their declared types (absent ones are absent).
    query: dict[str, Any] = field(default_factory=dict)


#: A handler answers with a Response, or with data (a model instance, a dict or a list) sent as JSON with
#: the route's `status`.
Handler = Callable[[ApiCall], Awaitable["Response | Any"]]


@dataclass(frozen=True, slots=True)
class Route:
    method: Literal["GET", "POST", "PATCH", "PUT", "DELETE"]
    #: An OpenAPI path template: "/api/sources/{source_id}".
    path: str
    handler: Handler
    summary: str
    #: The OpenAPI tag (one per resource module): "sources", "tokens", "packages", "users", ...
    tag: str
    role: Role = "admin"
    #: The dataclass model of the JSON body, or None.
    body: type | None = None
    #: The dataclass model (or `list[Model]`) of a success body, for the OpenAPI document and the tests.
    response: Any = None
    status: int = 200
    #: Query parameters the route reads: name -> (type, description). Types as in schema.py (`int`, `bool`,
    #: `Annotated[str, MaxLen(100)]`, a `Literal` of strings).
    query: dict[str, tuple[Any, str]] = field(default_factory=dict)
    #: Error statuses the route may answer besides those every route may (401/403 by role, 404 for path
    #: parameters, 422 for a body or query): e.g. (409,). For the OpenAPI document.
    errors: tuple[int, ...] = ()
    #: The body is not JSON but raw bytes of this media type (an upload); `body` is then None and the handler
    #: reads `ctx.request` itself.
    raw_body: str | None = None
    #: A longer description for the reference page.
    description: str = ""
