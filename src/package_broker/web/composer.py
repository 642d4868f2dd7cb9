"""The Composer protocol endpoints: packages.json, p2 files, dists, list, search, notify-batch.

Visibility rule: a token sees a package only if its grants cover it, `Token.may_see` (prefixes and exact
names; writes obey the same rule, see api.py).
`packages.json` and `list.json` simply leave other names out; asking for one directly is 403 whether or
not it exists, so a scoped token cannot probe for names.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from .. import untrusted_json
from ..access.auth import require_scope
from ..catalog.store import dist_key
from ..composer.documents import Document
from ..composer.names import naming_error
from ..errors import InvalidInput, PayloadTooLarge
from .http import Request, Response, accepts_gzip, error_response, http_date, json_response, parse_http_date

if TYPE_CHECKING:
    from .app import Context

_METADATA_CACHE = "private, no-cache"
_DIST_CACHE = "private, max-age=31536000, immutable"
_NOTIFY_LIMIT = 64 * 1024
#: Results one search answers with.
_SEARCH_LIMIT = 100
#: Packages one notify-batch report may list (Composer sends one report per install and repository).
MAX_REPORTED_DOWNLOADS = 200


_COMPOSER_1 = "This repository serves Composer 2 only. Upgrade with: composer self-update --2"


def _composer1(request: Request) -> Response | None:
    """Composer 1 cannot read this repository. It prints the `warning` of a packages.json it can parse
    (then finds no packages), but only a status line for errors: so the root file answers 200 with the
    warning, everything else 406."""
    if not request.headers.get("user-agent", "").startswith("Composer/1."):
        return None
    if request.path == "/packages.json":
        return json_response(200, {"packages": [], "warning": _COMPOSER_1, "warning-versions": "<1.999"})
    return error_response(406, "Not Acceptable", _COMPOSER_1, warning=_COMPOSER_1)


async def _authenticated(ctx: Context) -> Response | None:
    """Authenticate the caller; return a response to send instead when the client is Composer 1."""
    old_client = _composer1(ctx.request)
    if old_client is not None:
        return old_client
    await ctx.authenticate()
    return None


def _check_visible(ctx: Context, name: str) -> None:
    assert ctx.token is not None
    require_scope(ctx.token, name, "read")


def document_response(request: Request, document: Document) -> Response:
    """200 with the document (gzipped if accepted) or an empty 304 if the client's copy is current."""
    headers = [
        ("last-modified", document.last_modified_header),
        ("cache-control", _METADATA_CACHE),
        ("vary", "Accept-Encoding, Authorization"),
    ]
    since = parse_http_date(request.headers.get("if-modified-since"))
    if since is not None and since >= document.last_modified:
        return Response(304, headers)
    headers.append(("content-type", "application/json"))
    if accepts_gzip(request.headers.get("accept-encoding")):
        headers.append(("content-encoding", "gzip"))
        return Response(200, headers, document.gzipped)
    return Response(200, headers, document.body)


async def packages_json(ctx: Context) -> Response:
    if (early := await _authenticated(ctx)) is not None:
        return early
    token = ctx.token
    assert token is not None
    document = await ctx.broker.documents.root(
        token.may_see, token.scope_key, token.updated_at, ctx.base_url, ctx.request.defer
    )
    # A lazy mirror or known advisories change what the root file says (sources/lazy_mirror.py).
    document = await ctx.broker.mirror.root(document, token, ctx.base_url)
    return document_response(ctx.request, document)


async def p2(ctx: Context, name: str, *, dev: bool) -> Response:
    if (early := await _authenticated(ctx)) is not None:
        return early
    _check_visible(ctx, name)
    document = await ctx.broker.documents.p2(name, dev=dev, base_url=ctx.base_url, defer=ctx.request.defer)
    if document is None:  # the miss path: a name no private source serves may come from a lazy mirror
        document = await ctx.broker.mirror.p2(
            name, dev=dev, base_url=ctx.base_url, token=ctx.token, defer=ctx.request.defer
        )
    if document is None:
        return error_response(404, "Not Found", f"{name} is not served by this repository.")
    return document_response(ctx.request, document)


async def dist(ctx: Context, name: str, reference: str) -> Response:
    if (early := await _authenticated(ctx)) is not None:
        return early
    if naming_error(name) is not None:
        return error_response(404, "Not Found", "No such archive.")
    _check_visible(ctx, name)
    stored = await ctx.broker.ports.objects.get(dist_key(name, reference))
    if stored is None and await ctx.broker.mirror.dist(name, reference):  # a mirrored version's first download
        stored = await ctx.broker.ports.objects.get(dist_key(name, reference))
    if stored is None:
        return error_response(404, "Not Found", f"No archive of {name} at {reference}.")
    info = stored.info
    headers = [
        ("content-type", "application/zip"),
        ("content-length", str(info.size)),
        ("last-modified", http_date(info.uploaded_at)),
        ("cache-control", _DIST_CACHE),
        ("content-disposition", f'attachment; filename="{name.replace("/", "-")}-{reference[:12]}.zip"'),
    ]
    if "sha1" in info.metadata:
        headers.append(("etag", f'"{info.metadata["sha1"]}"'))
    return Response(200, headers, stream=stored.open, native=stored.native)


def _visible_names(ctx: Context, names: tuple[str, ...]) -> list[str]:
    if ctx.token is None:
        return []
    may_see = ctx.token.may_see
    return [name for name in names if may_see(name)]


async def list_json(ctx: Context) -> Response:
    """`list` from packages.json: `?filter=acme/*` (wildcards) and `?vendor=acme`."""
    if (early := await _authenticated(ctx)) is not None:
        return early
    names = _visible_names(ctx, (await ctx.broker.documents.names(ctx.request.defer)).names)
    if vendor := ctx.request.query_value("vendor"):
        names = [n for n in names if n.startswith(vendor.lower() + "/")]
    if pattern := ctx.request.query_value("filter"):
        regex = re.compile("^" + ".*".join(re.escape(p) for p in pattern.lower().split("*")) + "$")
        names = [n for n in names if regex.match(n)]
    return json_response(200, {"packageNames": names}, [("cache-control", _METADATA_CACHE)])


async def search_json(ctx: Context) -> Response:
    """`search` from packages.json: `?q=` in names and descriptions (`composer search`)."""
    if (early := await _authenticated(ctx)) is not None:
        return early
    query = (ctx.request.query_value("q") or "").strip()
    assert ctx.token is not None
    token = ctx.token
    rows = await ctx.broker.catalog.search(
        query, limit=_SEARCH_LIMIT, prefixes=token.allowed_package_prefixes, names=token.allowed_packages
    )
    visible = set(_visible_names(ctx, tuple(row["name"] for row in rows)))
    results = [
        {"name": row["name"], "description": row["description"] or "", "url": f"{ctx.base_url}/p2/{row['name']}.json"}
        for row in rows
        if row["name"] in visible
    ][:_SEARCH_LIMIT]
    return json_response(200, {"results": results, "total": len(results)}, [("cache-control", _METADATA_CACHE)])


async def notify_batch(ctx: Context) -> Response:
    """Composer reports installs here after `install`/`update`; counted per version and day.

    Only versions this broker serves and the token may see are counted, at most MAX_REPORTED_DOWNLOADS
    per report, in one database batch after the response is sent.
    """
    if (early := await _authenticated(ctx)) is not None:
        return early
    body = b""
    async for chunk in ctx.request.body():
        body += chunk
        if len(body) > _NOTIFY_LIMIT:
            raise PayloadTooLarge("the download report is too large")
    reported = _reported_downloads(body)
    if len(reported) > MAX_REPORTED_DOWNLOADS:
        raise PayloadTooLarge(
            f"the download report lists {len(reported)} packages; at most {MAX_REPORTED_DOWNLOADS} are counted"
        )
    wanted = [(n, v) for n, v in reported if naming_error(n) is None and _visible_names(ctx, (n,))]
    if wanted:
        ctx.request.defer(ctx.broker.catalog.count_downloads(wanted))
    return json_response(200, {"status": "success"})


def _reported_downloads(body: bytes) -> list[tuple[str, str]]:
    """The (name, version) pairs of a notify-batch body: `{"downloads": [{"name": ..., "version": ...}]}`."""
    usage = 'expected {"downloads": [{"name": ..., "version": ...}]}'
    try:
        data = untrusted_json.loads(body or b"{}")
    except untrusted_json.UntrustedJsonError as exc:
        raise InvalidInput(f"the download report is not valid JSON ({exc}); {usage}") from None
    reported = data.get("downloads", []) if isinstance(data, dict) else None
    if not isinstance(reported, list) or not all(
        isinstance(d, dict) and isinstance(d.get("name"), str) and isinstance(d.get("version"), str) for d in reported
    ):
        raise InvalidInput(usage)
    return [(d["name"].lower(), d["version"]) for d in reported]
