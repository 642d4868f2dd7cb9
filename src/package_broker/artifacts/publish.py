"""Publishing an uploaded zip as a package version (`package-broker publish`, `POST /api/artifacts`).

Everything is checked before anything is written, and the archive is stored before the metadata that
points at it, so a refused upload changes nothing and a served dist URL always resolves. Publishing the
version is a compare-and-set (`Catalog.publish`): of several uploads of one new version at once exactly one
wins and the others get a Conflict (their archives stay stored, unserved).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from ..broker import Broker
from ..catalog.store import VersionRow, dist_key, dist_path
from ..composer.manifest import encode_version, parse_manifest, version_object
from ..composer.names import validate_name
from ..composer.versions import is_dev, normalize
from ..errors import Conflict, InvalidInput, InvalidManifest, InvalidName
from ..ports.blob import Blob, blob_of
from ..sources.context import SyncContext
from ..sources.dists import store_archive
from .zips import inspect_zip


@dataclass(frozen=True, slots=True)
class Published:
    name: str
    version: str
    version_normalized: str
    reference: str
    shasum: str
    size: int
    #: False when the very same archive was already published as this version.
    changed: bool


async def publish_archive(
    broker: Broker,
    source: Blob | BinaryIO,
    *,
    version: str | None = None,
    replace: bool = False,
    authorize: Callable[[str], None] | None = None,
) -> Published:
    """Validate an archive (a Blob, or a seekable zip file) and serve it as a version of the package its
    composer.json names.

    `authorize(name)` raises if the caller may not publish that name (a token's prefixes). It runs before
    anything about the name is read, so a refusal says nothing about what exists.

    Raises:
        InvalidArchive, InvalidManifest, InvalidVersion: the upload is refused, nothing is stored.
        Conflict: the name belongs to another source, or the version exists with other bytes and not `replace`.
    """
    blob = source if isinstance(source, Blob) else blob_of(source)
    info = await broker.ports.offload(lambda: inspect_zip(blob))
    manifest = parse_manifest(info.manifest)
    try:
        name = validate_name(manifest.get("name"))
    except InvalidName as exc:
        raise InvalidManifest(f"composer.json: {exc}") from None
    if authorize is not None:
        authorize(name)
    pretty = version or manifest.get("version")
    if not pretty:
        raise InvalidInput(
            f'{name}: no version given. Add "version" to composer.json or pass one '
            "(package-broker publish --version 1.2.0, or ?version=1.2.0 on the upload URL)"
        )
    normalized = normalize(pretty)
    dev = is_dev(normalized)
    if dev and not pretty.lower().startswith("dev-") and not pretty.lower().endswith("-dev"):
        pretty = f"{pretty}-dev"

    uploads = await broker.sources.uploads()
    state = await broker.catalog.state(name)
    if state.package is not None and state.package.source_id != uploads.id:
        raise Conflict(f"{name} is served from a git or Composer source; uploads cannot replace it")
    previous = state.versions.get(normalized)
    if previous is not None and previous.reference != info.sha1 and not replace:
        raise Conflict(
            f"{name} {previous.version} is already published with a different archive; publish a new version "
            "or replace it explicitly (--replace, or ?replace=1)"
        )

    # The archive first, then the records pointing at it: a served dist URL always resolves.
    stored = info.sha1 in state.dists or await broker.ports.objects.head(dist_key(name, info.sha1)) is not None
    dist = await store_archive(
        SyncContext.of(broker), name, info.sha1, blob, checked=info, record=False, already_stored=stored
    )
    if previous is not None and previous.reference == info.sha1:
        await broker.catalog.write(state, uploads.id, replace=False, dists=[dist])
        return Published(name, previous.version, normalized, info.sha1, info.sha1, info.size, changed=False)

    now = broker.clock.now()
    data = version_object(
        manifest,
        name=name,
        version=pretty,
        version_normalized=normalized,
        reference=info.sha1,
        dist_path=dist_path(name, info.sha1),
        shasum=info.sha1,
        time=now,
    )
    row = VersionRow(normalized, pretty, dev, info.sha1, encode_version(data), now)
    served = await broker.catalog.publish(state, uploads.id, row, dist=dist, description=data.get("description"))
    if served is None:
        raise Conflict(f"{name} is served from a git or Composer source; uploads cannot replace it")
    if served.reference != info.sha1:
        # Another upload of this version won between our read and our write.
        raise Conflict(
            f"{name} {served.version} is already published with a different archive (another upload was "
            "accepted first); publish a new version or replace it explicitly (--replace, or ?replace=1)"
        )
    details = {"reference": info.sha1, "replaced": previous is not None}
    await broker.audit.log(None, "package.published", f"{name} {pretty}", details=details)
    return Published(name, pretty, normalized, info.sha1, info.sha1, info.size, changed=True)
