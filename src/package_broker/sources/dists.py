"""The one owner of "store this archive, then record it": uploads, git and provider sources, and mirrors
all go through `store_archive`, so every archive we serve passed the same checks and is stored before any
record points at it (a served dist URL always resolves)."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from ..artifacts.zips import ArchiveInfo, inspect_zip
from ..catalog.store import DistRow, dist_key
from ..errors import SourceError
from ..ports import HttpClient
from ..ports.blob import Blob
from ..ports.http_client import Guard
from .context import SyncContext

#: Seconds one upstream archive may take to download (mirrors: eager and lazy).
ARCHIVE_SECONDS = 120.0


async def check_archive(ctx: SyncContext, blob: Blob) -> ArchiveInfo:
    """The checks an upload passes: a safe zip with a composer.json (raises InvalidArchive otherwise)."""
    info: ArchiveInfo = await ctx.offload(lambda: inspect_zip(blob))
    return info


async def store_archive(
    ctx: SyncContext,
    name: str,
    reference: str,
    blob: Blob,
    *,
    checked: ArchiveInfo | None = None,
    record: bool = True,
    already_stored: bool = False,
    upstream_url: str | None = None,
) -> DistRow:
    """Check `blob` (unless the caller already did: `checked`), store it under `name`/`reference`, and
        record it (unless `record` is False: the caller records the returned row in its own write, which must
        come after this call). `already_stored`: the caller knows these very bytes are stored under that key
    (an upload's key is its SHA-1), so they are not sent again.

        Raises:
            InvalidArchive: the archive is unsafe or has no composer.json; nothing is stored.
    """
    if checked is None:
        await check_archive(ctx, blob)
    key = dist_key(name, reference)
    if not already_stored:
        await ctx.objects.put(key, blob.file, size=blob.size, metadata={"sha1": blob.sha1})
    dist = DistRow(name, reference, key, blob.sha1, blob.size, upstream_url=upstream_url)
    if record:
        await ctx.catalog.add_dist(dist)
    return dist


async def mirror_archive(
    ctx: SyncContext,
    http: HttpClient,
    name: str,
    url: str,
    *,
    shasum: str,
    headers: Mapping[str, str],
    guard: Guard,
    reference: str | None = None,
    record: bool = True,
) -> DistRow:
    """Download an upstream's archive (capped at MAX_UPLOAD_BYTES and ARCHIVE_SECONDS), check it against the
    upstream's `shasum` when it gives one, then store it like an upload under `reference` (default: its SHA-1).

    Raises:
        SourceError: the download failed or the bytes are not the ones the upstream announced.
        InvalidArchive: the archive is unsafe or has no composer.json; nothing is stored.
    """
    download = await http.download(
        url, headers=headers, timeout=ARCHIVE_SECONDS, max_bytes=ctx.settings.max_upload_bytes, guard=guard
    )
    where = f"{urlsplit(url).netloc}{urlsplit(url).path}"
    if download.blob is None:
        raise SourceError(f"downloading {where} failed: HTTP {download.status}")
    with download.blob as blob:
        if shasum and shasum.lower() != blob.sha1:
            raise SourceError(f"the archive {where} has sha1 {blob.sha1}, not the upstream shasum {shasum}")
        return await store_archive(ctx, name, reference or blob.sha1, blob, record=record, upstream_url=url)
