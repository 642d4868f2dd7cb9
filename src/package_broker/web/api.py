"""The write side of the HTTP API, for CI pipelines with a `write` token: publish a zip, trigger a sync.

A write token limited by grants (`--allow-prefix`, `--allow-package`) may publish only names they cover
(`Token.may_see`, checked before anything about the name is read, so its errors name nothing outside its
scope) and may not sync:
a sync reaches every source and its report names them all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING

from ..access.auth import require_scope, require_unscoped, require_write
from ..artifacts.publish import publish_archive
from ..audit import acting_as
from ..errors import InvalidInput, PayloadTooLarge
from ..sources.job import sync_all
from .http import Response, json_response

if TYPE_CHECKING:
    from .app import Context

_ZIP_TYPES = ("", "application/zip", "application/octet-stream", "application/x-zip-compressed")


class UnsupportedMediaType(InvalidInput):
    status = 415


async def upload_artifact(ctx: Context) -> Response:
    """`POST /api/artifacts[?version=1.2.0][&replace=1]` with the zip as the request body."""
    token = await ctx.authenticate()
    require_write(token)
    with acting_as(token.id, ctx.request.client):
        return await publish_upload(ctx, lambda name: require_scope(token, name, "publish"))


async def publish_upload(ctx: Context, authorize: Callable[[str], None]) -> Response:
    """Publish the zip that is the request body (`?version=`, `?replace=1`) as whoever is acting: a write
    token here, a signed-in admin through `POST /api/packages` (web/admin/packages.py). `authorize(name)`
    raises if the caller may not publish that name."""
    request = ctx.request
    limit = ctx.broker.settings.max_upload_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the upload is {declared} bytes; the limit is {limit} (MAX_UPLOAD_BYTES)")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in _ZIP_TYPES:
        raise UnsupportedMediaType(
            f"send the zip itself as the request body (Content-Type: application/zip), not {content_type}; "
            "e.g. curl --data-binary @package.zip -H 'Content-Type: application/zip'"
        )
    with await request.receive(limit) as blob:
        if blob.size == 0:
            raise InvalidInput("the request body is empty; send the zip as the body")
        published = await publish_archive(
            ctx.broker,
            blob,
            version=request.query_value("version") or None,
            replace=(request.query_value("replace") or "").lower() in ("1", "true", "yes"),
            authorize=authorize,
        )
    body = {**asdict(published), "dist_url": f"{ctx.base_url}/dists/{published.name}/{published.reference}.zip"}
    return json_response(201 if published.changed else 200, body)


async def trigger_sync(ctx: Context) -> Response:
    """`POST /api/sync[?source=src_...]`: sync now and report per source."""
    token = await ctx.authenticate()
    require_write(token)
    require_unscoped(token, "syncing")
    source = ctx.request.query_value("source")
    with acting_as(token.id, ctx.request.client):
        reports = await sync_all(ctx.broker, [source] if source else None)
    return json_response(200, {"sources": [asdict(report) for report in reports]})
