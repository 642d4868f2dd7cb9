"""The one owner of "store this archive, then record it": uploads, git and provider sources, and mirrors
all go through `store_archive`, so every archive we serve passed the same checks and is stored before any
record points at it (a served dist URL always resolves)."""

from __future__ import annotations

from ..artifacts.zips import ArchiveInfo, inspect_zip
from ..catalog.store import DistRow, dist_key
from ..ports.blob import Blob
from .context import SyncContext


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
