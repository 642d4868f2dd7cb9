"""Mirroring another Composer 2 repository (Satis, Private Packagist, another broker, ...) over HTTP.

Runs on both runtimes through the HttpClient port. For each mirrored package the sync reads
`p2/<name>.json` and `~dev.json` with If-Modified-Since (a 304 costs nothing), and downloads each new dist
once, checks it against the upstream `shasum` and stores it: from then on installs never depend on the
upstream, and a version removed upstream stays installable from lock files. Downloads stop when the time
budget runs out; the next run continues where this one stopped.

Upstream credentials are sent only to the repository's own host, never to dist hosts elsewhere.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import time
from typing import Any
from urllib.parse import urljoin, urlsplit

from ..broker import Broker
from ..catalog.store import DistRow, VersionRow, dist_key, dist_path, first_description
from ..composer.minifier import expand
from ..composer.names import naming_error
from ..composer.versions import is_dev, normalize
from ..errors import BrokerError, InvalidVersion, SourceError
from ..ports import HttpClient
from .report import SyncReport
from .store import RefState, Source

#: Fields of an upstream version object we do not pass on: we serve our own dist, and downloads are
#: reported to us (notify-batch), not to the upstream.
_DROPPED = ("dist", "notification-url", "installation-source", "uid")
_MAX_METADATA_BYTES = 64 * 1024 * 1024


def _metadata_url(base: str, template: str) -> str:
    """Resolve `metadata-url` as Composer does: `/...` against scheme://host, absolute URLs as they are."""
    if template.startswith("/"):
        parts = urlsplit(base)
        return f"{parts.scheme}://{parts.netloc}{template}"
    return urljoin(base.rstrip("/") + "/", template)


class ComposerRepositorySync:
    def __init__(self, broker: Broker, source: Source, http: HttpClient, budget_seconds: float | None = None) -> None:
        self.broker = broker
        self.source = source
        self.http = http
        self.deadline = time.monotonic() + budget_seconds if budget_seconds else None
        self.base = source.url.rstrip("/")
        self.host = urlsplit(self.base).netloc
        self._auth: dict[str, str] = {}

    async def _headers_for(self, url: str) -> dict[str, str]:
        if not self.source.credentials or urlsplit(url).netloc != self.host:
            return {}
        if not self._auth:
            values = await self.broker.open_credentials(self.source.credentials)
            if values.get("token"):
                self._auth = {"authorization": f"Bearer {values['token']}"}
            else:
                raw = f"{values.get('username', '')}:{values.get('password', '')}".encode()
                self._auth = {"authorization": "Basic " + base64.b64encode(raw).decode()}
        return self._auth

    async def _get(self, url: str, extra: dict[str, str] | None = None) -> Any:
        headers = {"accept": "application/json", **(await self._headers_for(url)), **(extra or {})}
        response = await self.http.request("GET", url, headers=headers)
        if response.status in (401, 403):
            raise SourceError(f"{self.host} refused our credentials (HTTP {response.status}) for {urlsplit(url).path}")
        return response

    async def run(self) -> SyncReport:
        root_url = self.base if self.base.endswith(".json") else f"{self.base}/packages.json"
        response = await self._get(root_url)
        if response.status != 200:
            raise SourceError(f"{root_url} answered HTTP {response.status}")
        try:
            root = json.loads(response.body)
        except ValueError:
            raise SourceError(f"{root_url} is not JSON") from None
        template = root.get("metadata-url") if isinstance(root, dict) else None
        if not isinstance(template, str) or "%package%" not in template:
            raise SourceError(f"{root_url} has no metadata-url: only Composer 2 repositories can be mirrored")
        names = self.source.option("packages") or root.get("available-packages") or []
        if not names:
            raise SourceError(
                f"{root_url} does not list available-packages; name the packages to mirror (--package acme/lib)"
            )
        metadata_url = _metadata_url(root_url, template)
        previous = await self.broker.sources.refs(self.source.id)
        report = SyncReport(self.source.id, "ok")
        states: list[RefState] = []
        total = 0
        for name in sorted({str(n).lower() for n in names}):
            if naming_error(name):
                report.skipped.append((name, "not a valid package name"))
                continue
            try:
                rows, file_states, pending = await self._package(name, metadata_url, previous, report)
            except BrokerError as exc:
                report.skipped.append((name, str(exc)))
                states.append(RefState(f"p2/{name}.json", "skipped", str(exc)))
                continue
            states += file_states
            if rows is not None:
                package, _ = await self.broker.catalog.claim(name, self.source.id, first_description(rows))
                report.changed |= await self.broker.catalog.replace_versions(
                    package, rows, description=first_description(rows)
                )
                total += len(rows)
            if pending:
                report.skipped.append((name, f"{pending} archives left for the next sync (time budget used up)"))
        await self.broker.sources.record_refs(self.source.id, states)
        if report.changed:
            await self.broker.cache.invalidate()
        report.versions = total
        report.message = f"{total} versions of {len(names)} packages from {self.host}" + (
            "; skipped " + "; ".join(f"{n}: {r}" for n, r in report.skipped[:5]) if report.skipped else ""
        )
        return report

    async def _package(
        self, name: str, metadata_url: str, previous: dict[str, dict[str, Any]], report: SyncReport
    ) -> tuple[list[VersionRow] | None, list[RefState], int]:
        """Return the package's versions (None: unchanged upstream), file states, and dists left pending."""
        current = {row.version_normalized: row for row in await self.broker.catalog.versions(name)}
        rows: list[VersionRow] = []
        states: list[RefState] = []
        changed = False
        pending = 0
        missing = 0
        for dev in (False, True):
            file = f"p2/{name}{'~dev' if dev else ''}.json"
            seen = previous.get(file, {})
            since = seen.get("last_modified") if seen.get("status") == "ok" else None
            response = await self._get(
                metadata_url.replace("%package%", name + ("~dev" if dev else "")),
                {"if-modified-since": since} if since else None,
            )
            if response.status == 304:
                rows += [row for row in current.values() if row.is_dev == dev]
                states.append(RefState(file, "ok", last_modified=since))
                continue
            changed = True
            if response.status == 404:
                missing += 1
                states.append(RefState(file, "ok"))
                continue
            if response.status != 200 or len(response.body) > _MAX_METADATA_BYTES:
                raise SourceError(f"{file} answered HTTP {response.status}")
            versions = _versions(response.body, name)
            incomplete = 0
            for upstream in versions:
                row = await self._version(name, upstream, current, report)
                if row is None:
                    incomplete += int(self._out_of_time())
                    continue
                if row.is_dev == dev:
                    rows.append(row)
            pending += incomplete
            # Remember Last-Modified only for a file mirrored completely; otherwise read it whole next time.
            states.append(
                RefState(file, "ok", last_modified=None if incomplete else response.headers.get("last-modified"))
            )
        if missing == 2 and current:
            # The upstream no longer knows the package at all: keep serving what we have (lock files and
            # new installs keep working) rather than trusting what may be a misconfiguration upstream.
            report.skipped.append((name, "the upstream no longer lists it; its versions stay served"))
            return None, states, pending
        return (rows if changed else None), states, pending

    def _out_of_time(self) -> bool:
        return self.deadline is not None and time.monotonic() > self.deadline

    async def _version(
        self, name: str, upstream: dict[str, Any], current: dict[str, VersionRow], report: SyncReport
    ) -> VersionRow | None:
        version = str(upstream.get("version", ""))
        try:
            normalized = normalize(version)
        except InvalidVersion:
            report.skipped.append((f"{name} {version}", "invalid version"))
            return None
        dist = upstream.get("dist")
        if not isinstance(dist, dict) or dist.get("type") != "zip" or not dist.get("url"):
            report.skipped.append((f"{name} {version}", "no zip dist to mirror"))
            return None
        stored = await self.broker.catalog.dist_from(name, str(dist["url"]))
        if stored is None:
            if self._out_of_time():
                existing = current.get(normalized)
                return existing  # keep serving the previous state of this version, if any
            try:
                stored = await self._mirror(name, str(dist["url"]), str(dist.get("shasum") or ""))
            except BrokerError as exc:
                report.skipped.append((f"{name} {version}", str(exc)))
                return current.get(normalized)
        data = {k: v for k, v in upstream.items() if k not in _DROPPED}
        data.update(name=name, version=version, version_normalized=normalized)
        data["dist"] = {
            "type": "zip",
            "url": dist_path(name, stored.reference),
            "reference": str(dist.get("reference") or stored.reference),
            "shasum": stored.shasum,
        }
        return VersionRow(normalized, version, is_dev(normalized), data["dist"]["reference"], json.dumps(data), None)

    async def _mirror(self, name: str, url: str, shasum: str) -> DistRow:
        response = await self.http.request("GET", url, headers=await self._headers_for(url), timeout=120)
        if response.status != 200:
            raise SourceError(f"downloading {urlsplit(url).netloc}{urlsplit(url).path} failed: HTTP {response.status}")
        sha1 = hashlib.sha1(response.body, usedforsecurity=False).hexdigest()
        if shasum and shasum.lower() != sha1:
            raise SourceError(f"the archive's sha1 {sha1} does not match the upstream shasum {shasum}")
        key = dist_key(name, sha1)
        if await self.broker.ports.objects.head(key) is None:
            await self.broker.ports.objects.put(
                key, io.BytesIO(response.body), size=len(response.body), metadata={"sha1": sha1}
            )
        dist = DistRow(name, sha1, key, sha1, len(response.body), upstream_url=url)
        await self.broker.catalog.add_dist(dist)
        return dist


def _versions(body: bytes, name: str) -> list[dict[str, Any]]:
    try:
        document = json.loads(body)
        versions = document["packages"].get(name, [])
    except (ValueError, KeyError, AttributeError, TypeError):
        raise SourceError(f"the metadata of {name} is not a Composer 2 p2 file") from None
    if isinstance(versions, dict):  # the older {"1.0.0": {...}} form
        versions = list(versions.values())
    if document.get("minified") == "composer/2.0":
        versions = expand(versions)
    return [v for v in versions if isinstance(v, dict) and str(v.get("name", name)).lower() == name]
