"""The browser dashboard: a handful of static files (HTML, CSS, JavaScript modules) served by the core.

The files live in `assets/` next to this module and ship inside the package: the server reads them from
the installed package, the Worker from the bundle (wrangler.toml's `[[rules]]` packs them as Text modules,
which workerd mounts under /session/metadata like the Python modules). One code path serves both.

They are read once, at import (like the modules themselves), so serving one is a dictionary look-up and
never file I/O on the event loop. Every response carries a strict Content-Security-Policy (no inline script
or style, nothing from another origin) and is revalidated by ETag, so a new release is picked up at once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..http import Response, error_response

if TYPE_CHECKING:
    from ..app import Context

ASSETS = Path(__file__).resolve().parent / "assets"
#: Where the assets are served: /ui/<file name>.
PREFIX = "/ui/"

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
#: Sent with every dashboard response (the page and its files).
SECURITY_HEADERS = [
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
]

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


def _load() -> dict[str, Asset]:
    found: dict[str, Asset] = {}
    for path in sorted(ASSETS.iterdir()):
        content_type = _TYPES.get(path.suffix)
        if content_type is None or not path.is_file():
            continue
        body = path.read_bytes()
        found[path.name] = Asset(body, content_type, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')
    return found


#: File name -> asset; index.html is the page, the others are served under PREFIX.
FILES = _load()


def _serve(ctx: Context, asset: Asset, extra: list[tuple[str, str]] | None = None) -> Response:
    headers = [
        ("content-type", asset.content_type),
        ("etag", asset.etag),
        # Revalidated on every use (a 304 when unchanged): a deploy is visible at once, no stale mix of files.
        ("cache-control", "no-cache"),
        *SECURITY_HEADERS,
        *(extra or []),
    ]
    if _etag_matches(ctx.request.headers.get("if-none-match"), asset.etag):
        return Response(304, headers)
    return Response(200, headers, asset.body)


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    return any(tag.strip().removeprefix("W/") in (etag, "*") for tag in header.split(","))


def wants_html(accept: str | None) -> bool:
    """True when the client prefers HTML to JSON: browsers do; curl (*/*), scripts and Composer do not.

    Only explicit types count: `*/*` keeps today's JSON for every client that does not ask for a page.
    """
    if not accept:
        return False
    quality = {"text/html": 0.0, "application/json": 0.0}
    for part in accept.lower().split(","):
        media, *params = (p.strip() for p in part.split(";"))
        if media not in quality:
            continue
        q = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    q = float(param[2:])
                except ValueError:
                    q = 0.0
        quality[media] = max(quality[media], q)
    return quality["text/html"] > quality["application/json"]


async def page(ctx: Context) -> Response:
    """The dashboard's page (`GET /` from a browser): one HTML shell; the scripts render the views."""
    return _serve(ctx, FILES["index.html"], [("vary", "Accept")])


async def asset(ctx: Context) -> Response:
    """`GET /ui/<file>`: one of the page's files; only the files in assets/ exist (no paths, no listing)."""
    name = ctx.request.path[len(PREFIX) :]
    found = FILES.get(name) if name != "index.html" else None
    if found is None:
        return error_response(404, "Not Found", f"Nothing is served at {ctx.request.path}.")
    return _serve(ctx, found)
