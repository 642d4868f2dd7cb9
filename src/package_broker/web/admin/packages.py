"""`/api/packages`: search and page through what is served, one package's versions, downloads and README,
delete or restore a version, upload a zip (the same publish as `POST /api/artifacts`, as the signed-in admin)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from ...catalog import admin as core
from ...catalog.readme import MAX_README_BYTES, package_readme
from ...composer.names import naming_error
from ...errors import NotFound
from ..api import publish_upload
from ..http import Response
from .models import PAGING, Time, page_limit
from .routing import ApiCall, Route
from .schema import Doc, MaxLen

Name = Annotated[str, MaxLen(300)]


@dataclass(frozen=True, slots=True)
class PackageSummary:
    name: Name
    description: Annotated[str, MaxLen(100000)] | None
    source_id: Annotated[str, MaxLen(100)]
    source_kind: Annotated[str, MaxLen(40)]
    versions: Annotated[int, Doc("Tagged versions")]
    dev_versions: Annotated[int, Doc("Branches")]
    downloads: Annotated[int, Doc("Installs Composer reported, all time")]
    modified_at: Time


@dataclass(frozen=True, slots=True)
class PackagePage:
    items: list[PackageSummary]
    next: Annotated[str, MaxLen(300)] | None


@dataclass(frozen=True, slots=True)
class VersionInfo:
    version: Annotated[str, MaxLen(300)]
    version_normalized: Annotated[str, MaxLen(300)]
    reference: Annotated[str, MaxLen(100)]
    is_dev: bool
    released_at: Time | None
    dist_size: Annotated[int | None, Doc("Bytes of the stored archive; null: not stored yet")]
    downloads: int
    hidden: Annotated[bool, Doc("Hidden by an operator: not in metadata, its archive still downloadable")]
    dist_url: Annotated[str, MaxLen(1000)]


@dataclass(frozen=True, slots=True)
class ReadmeInfo:
    """The README of the newest stable version's stored archive, as text (render it safely: it is untrusted)."""

    version: Annotated[str, MaxLen(300)]
    filename: Annotated[str, MaxLen(300)]
    text: Annotated[str, MaxLen(MAX_README_BYTES)]
    truncated: bool


@dataclass(frozen=True, slots=True)
class PackageInfo:
    name: Name
    description: Annotated[str, MaxLen(100000)] | None
    source_id: Annotated[str, MaxLen(100)]
    source_kind: Annotated[str, MaxLen(40)]
    source_url: Annotated[str, MaxLen(4000)]
    downloads: int
    versions: Annotated[list[VersionInfo], MaxLen(100000)]
    readme: ReadmeInfo | None


@dataclass(frozen=True, slots=True)
class Changed:
    message: Annotated[str, MaxLen(2000), Doc("What happened, and what it means for composer.lock files")]


@dataclass(frozen=True, slots=True)
class Published:
    """The version an upload made (or found: `changed` false when the same archive was already served)."""

    name: Name
    version: Annotated[str, MaxLen(300)]
    version_normalized: Annotated[str, MaxLen(300)]
    reference: Annotated[str, MaxLen(100)]
    shasum: Annotated[str, MaxLen(100)]
    size: int
    changed: bool
    dist_url: Annotated[str, MaxLen(1000)]


def _name(call: ApiCall) -> str:
    """`vendor/name` from the path, lower-cased; a name Composer would refuse is simply not served (404)."""
    name = f"{call.params['vendor']}/{call.params['name']}".lower()
    if naming_error(name):
        raise NotFound(f"{name} is not served here")
    return name


async def list_packages(call: ApiCall) -> PackagePage:
    limit = page_limit(call.query)
    found = await core.list_packages(
        call.ctx.broker, search=call.query.get("q") or None, after=call.query.get("cursor") or None, limit=limit + 1
    )
    items = [
        PackageSummary(
            p.name, p.description, p.source_id, p.source_kind, p.versions, p.dev_versions, p.downloads, p.modified_at
        )
        for p in found[:limit]
    ]
    return PackagePage(items, items[-1].name if len(found) > limit else None)


async def show_package(call: ApiCall) -> PackageInfo:
    broker = call.ctx.broker
    name = _name(call)
    detail = await core.show_package(broker, name)
    readme = await package_readme(broker, name)
    base = call.ctx.base_url
    return PackageInfo(
        name=detail.name,
        description=detail.description,
        source_id=detail.source_id,
        source_kind=detail.source_kind,
        source_url=detail.source_url,
        downloads=sum(v.downloads for v in detail.versions),
        versions=[
            VersionInfo(
                v.version,
                v.version_normalized,
                v.reference,
                v.is_dev,
                v.released_at,
                v.dist_size,
                v.downloads,
                v.hidden,
                f"{base}/dists/{detail.name}/{v.reference}.zip",
            )
            for v in detail.versions
        ],
        readme=ReadmeInfo(readme.version, readme.filename, readme.text, readme.truncated) if readme else None,
    )


async def delete_version(call: ApiCall) -> Changed:
    purge = bool(call.query.get("purge", False))
    return Changed(await core.delete(call.ctx.broker, _name(call), call.params["version"], purge=purge))


async def delete_package(call: ApiCall) -> Changed:
    purge = bool(call.query.get("purge", False))
    return Changed(await core.delete(call.ctx.broker, _name(call), None, purge=purge))


async def restore_version(call: ApiCall) -> Changed:
    return Changed(await core.restore(call.ctx.broker, _name(call), call.params["version"]))


async def upload(call: ApiCall) -> Response:
    # An admin may publish any name (the grants of tokens do not apply to users).
    return await publish_upload(call.ctx, lambda name: None)


_ONE = "/api/packages/{vendor}/{name}"
_PURGE = {"purge": (bool, "Delete the archive too: a composer.lock naming it can no longer install.")}

ROUTES = [
    Route(
        "GET",
        "/api/packages",
        list_packages,
        "Search and page through served packages",
        "packages",
        role="viewer",
        response=PackagePage,
        query={"q": (Annotated[str, MaxLen(200)], "Only names or descriptions containing this."), **PAGING},
    ),
    Route(
        "POST",
        "/api/packages",
        upload,
        "Upload a zip (the body, Content-Type: application/zip) as a new version",
        "packages",
        response=Published,
        status=201,
        errors=(409, 413, 415),
        raw_body="application/zip",
        query={
            "version": (Annotated[str, MaxLen(100)], "The version, when composer.json names none."),
            "replace": (bool, "Replace a version already published with other bytes."),
        },
        description="Answers 201 for a new version, 200 when the very same archive was already that version.",
    ),
    Route(
        "GET",
        _ONE,
        show_package,
        "One package: source, versions (archive size, downloads, hidden), README of the newest stable version",
        "packages",
        role="viewer",
        response=PackageInfo,
    ),
    Route(
        "DELETE",
        _ONE,
        delete_package,
        "Delete an uploaded package (a source's package goes with its source)",
        "packages",
        response=Changed,
        query=_PURGE,
        errors=(409,),
    ),
    Route(
        "DELETE",
        f"{_ONE}/versions/{{version}}",
        delete_version,
        "Delete an uploaded version, or hide a version a source serves",
        "packages",
        response=Changed,
        query=_PURGE,
    ),
    Route(
        "POST",
        f"{_ONE}/versions/{{version}}/restore",
        restore_version,
        "Serve a hidden version again",
        "packages",
        response=Changed,
    ),
]
