"""Mirroring another Composer 2 repository (Satis, Private Packagist, another broker, ...) over HTTP.

Runs on both runtimes through the HttpClient port. For each mirrored package the sync reads
`p2/<name>.json` and `~dev.json` with If-Modified-Since (a 304 costs nothing), and downloads each new dist
once, checks it against the upstream `shasum` and stores it: from then on installs never depend on the
upstream, and a version removed upstream stays installable from lock files. A mirrored archive passes the
same checks as an upload, and every URL the upstream names (or redirects to) is checked against
PRIVATE_UPSTREAMS first (sources/addresses.py).

Built for a Worker's per-invocation limits (package_broker.budget): an unchanged package costs two
conditional requests and no database call; a changed one adds one database read and one write, whatever
its number of versions, plus one request and one store call per new archive. Before each step the sync
asks the budget; when it runs out the run ends "partial" with a cursor (the last package completed), and
the next run continues after it.

Upstream credentials are sent only to the repository's own host, never to dist hosts elsewhere.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urljoin, urlsplit

from .. import budget, untrusted_json
from ..catalog.store import DistRow, PackageState, VersionRow, dist_path, first_description
from ..composer.manifest import check_links
from ..composer.minifier import expand
from ..composer.names import naming_error
from ..composer.versions import is_dev, normalize
from ..errors import BrokerError, InvalidVersion, SourceError
from ..ports import HttpClient, HttpResponse
from ..ports.database import Params
from ..ports.http_client import MAX_METADATA_BYTES
from .context import SyncContext
from .dists import mirror_archive
from .report import SyncReport
from .store import RefState, Source

#: Seconds one metadata request, and one archive download, may take in all (body included).
METADATA_SECONDS = 30.0
#: Fields of an upstream version object we do not pass on: we serve our own dist, and downloads are
#: reported to us (notify-batch), not to the upstream.
_DROPPED = ("dist", "notification-url", "installation-source", "uid")


def resolve_metadata_url(base: str, template: str) -> str:
    """Resolve `metadata-url` as Composer does: `/...` against scheme://host, absolute URLs as they are."""
    if template.startswith("/"):
        parts = urlsplit(base)
        return f"{parts.scheme}://{parts.netloc}{template}"
    return urljoin(base.rstrip("/") + "/", template)


def root_url(base: str) -> str:
    """A Composer repository's root file: the source URL itself when it names a `.json` file."""
    base = base.rstrip("/")
    return base if base.endswith(".json") else f"{base}/packages.json"


async def get_metadata(
    http: HttpClient, url: str, headers: dict[str, str], guard: Callable[[str], Awaitable[None]]
) -> HttpResponse:
    """One GET of an upstream's metadata (its root file or a p2 file), for the eager and the lazy mirror alike:
    at most METADATA_SECONDS and MAX_METADATA_BYTES, every URL (redirects too) checked by `guard`."""
    return await http.request(
        "GET",
        url,
        headers={"accept": "application/json", **headers},
        timeout=METADATA_SECONDS,
        max_bytes=MAX_METADATA_BYTES,
        guard=guard,
    )


def read_root(url: str, response: HttpResponse) -> tuple[dict[str, Any], str]:
    """The root file's JSON and its `metadata-url` resolved against `url`; SourceError for anything else than a
    Composer 2 root file (an HTTP error, not JSON, no `metadata-url` with `%package%`)."""
    if response.status != 200:
        raise SourceError(f"{url} answered HTTP {response.status}")
    try:
        root = untrusted_json.loads(response.body)
    except ValueError:
        raise SourceError(f"{url} is not JSON") from None
    template = root.get("metadata-url") if isinstance(root, dict) else None
    if not isinstance(template, str) or "%package%" not in template:
        raise SourceError(f"{url} has no metadata-url: only Composer 2 repositories can be mirrored")
    return root, resolve_metadata_url(url, template)


class ComposerRepositorySync:
    def __init__(self, ctx: SyncContext, source: Source, http: HttpClient) -> None:
        self.ctx = ctx
        self.source = source
        self.http = http
        self.budget = budget.current()
        self.base = source.url.rstrip("/")
        self.host = urlsplit(self.base).netloc
        self._auth: dict[str, str] = {}

    async def _guard(self, url: str) -> None:
        """Refuse a URL the upstream names (or redirects to) that PRIVATE_UPSTREAMS does not allow."""
        await self.ctx.guard(self.source.url)(url)

    async def _headers_for(self, url: str) -> dict[str, str]:
        if not self.source.credentials or urlsplit(url).netloc != self.host:
            return {}
        if not self._auth:
            opened = await self.ctx.credentials(self.source)
            if opened.token:
                self._auth = {"authorization": f"Bearer {opened.token}"}
            else:
                raw = f"{opened.username or ''}:{opened.password or ''}".encode()
                self._auth = {"authorization": "Basic " + base64.b64encode(raw).decode()}
        return self._auth

    async def _get(self, url: str, extra: dict[str, str] | None = None) -> HttpResponse:
        headers = {**(await self._headers_for(url)), **(extra or {})}
        response = await get_metadata(self.http, url, headers, self._guard)
        if response.status in (401, 403):
            raise SourceError(f"{self.host} refused our credentials (HTTP {response.status}) for {urlsplit(url).path}")
        return response

    async def run(self) -> SyncReport:
        url = root_url(self.base)
        root, metadata_url = read_root(url, await self._get(url))
        listed = self.source.option("packages") or root.get("available-packages") or []
        if not listed:
            raise SourceError(
                f"{url} does not list available-packages; name the packages to mirror (--package acme/lib)"
            )
        names = sorted({str(n).lower() for n in listed})
        previous = await self.ctx.sources.refs(self.source.id)
        report = SyncReport(self.source.id, "ok")
        cursor = self.source.sync_cursor
        last_done = cursor
        for name in names:
            if cursor is not None and name <= cursor:
                continue
            if naming_error(name):
                report.skipped.append((name, "not a valid package name"))
                last_done = name
                continue
            # Two conditional requests, then at most one database read and one write.
            if not self.budget.affords(fetches=2, services=2):
                return self._partial(report, last_done, names)
            try:
                if not await self._package(name, metadata_url, previous, report):
                    return self._partial(report, last_done, names)
            except budget.BudgetExhausted as exc:
                return self._partial(report, last_done, names, str(exc))
            except BrokerError as exc:
                report.skipped.append((name, str(exc)))
                await self.ctx.sources.record(self._states([RefState(f"p2/{name}.json", "skipped", str(exc))]))
            last_done = name
        await self._forget_unlisted(previous, set(names))
        report.message = f"{len(names)} packages from {self.host}" + self._skipped(report)
        return report

    def _partial(self, report: SyncReport, last_done: str | None, names: list[str], why: str = "") -> SyncReport:
        done = sum(1 for n in names if last_done is not None and n <= last_done)
        report.status, report.cursor = "partial", last_done
        report.message = (
            f"checked {done} of {len(names)} packages from {self.host} before this run's budget ran out"
            + (f" ({why})" if why else "")
            + "; the next run continues"
            + self._skipped(report)
        )
        return report

    @staticmethod
    def _skipped(report: SyncReport) -> str:
        if not report.skipped:
            return ""
        return "; skipped " + "; ".join(f"{n}: {r}" for n, r in report.skipped[:5])

    def _states(self, states: list[RefState]) -> list[tuple[str, Params]]:
        return self.ctx.sources.ref_statements(self.source.id, states, complete=False)

    async def _forget_unlisted(self, previous: dict[str, dict[str, Any]], names: set[str]) -> None:
        """After a complete pass, drop what earlier syncs recorded for packages the source no longer lists."""
        stale = [
            ref for ref in previous if ref.removeprefix("p2/").removesuffix(".json").removesuffix("~dev") not in names
        ]
        if stale:
            await self.ctx.sources.forget_refs(self.source.id, stale)

    async def _package(
        self, name: str, metadata_url: str, previous: dict[str, dict[str, Any]], report: SyncReport
    ) -> bool:
        """Mirror one package. False when the budget ran out before it was complete (nothing was lost)."""
        responses: list[tuple[bool, str | None, HttpResponse]] = []
        for dev in (False, True):
            seen = previous.get(f"p2/{name}{'~dev' if dev else ''}.json", {})
            since = seen.get("last_modified") if seen.get("status") == "ok" else None
            url = metadata_url.replace("%package%", name + ("~dev" if dev else ""))
            responses.append((dev, since, await self._get(url, {"if-modified-since": since} if since else None)))
        if all(response.status == 304 for _, _, response in responses):
            return True  # unchanged upstream: nothing to read or write

        state = await self.ctx.catalog.state(name)
        rows: list[VersionRow] = []
        dists: list[DistRow] = []
        states: list[RefState] = []
        complete = True
        for dev, since, response in responses:
            file = f"p2/{name}{'~dev' if dev else ''}.json"
            if response.status == 304:
                rows += [row for row in state.versions.values() if row.is_dev == dev]
                states.append(RefState(file, "ok", last_modified=since))
                continue
            if response.status == 404:
                states.append(RefState(file, "ok", reason="not found upstream"))
                continue
            if response.status != 200:
                raise SourceError(f"{file} answered HTTP {response.status}")
            file_complete = True
            for upstream in _versions(response.body, name):
                row, done = await self._version(name, upstream, state, dists, report)
                file_complete &= done
                if row is not None and row.is_dev == dev:
                    rows.append(row)
            complete &= file_complete
            # Remember Last-Modified only for a file mirrored completely; otherwise read it whole next time.
            last_modified = response.headers.get("last-modified") if file_complete else None
            states.append(RefState(file, "ok", last_modified=last_modified))

        gone = all(response.status == 404 for _, _, response in responses)
        if gone and state.versions:
            # The upstream no longer knows the package at all: keep serving what we have (lock files and
            # new installs keep working) rather than trusting what may be a misconfiguration upstream.
            report.skipped.append((name, "the upstream no longer lists it; its versions stay served"))
            rows = list(state.versions.values())
        if rows or state.package is not None:
            report.changed |= await self.ctx.catalog.write(
                state,
                self.source.id,
                rows,
                description=first_description(rows),
                dists=dists,
                extra=self._states(states),
            )
        else:
            await self.ctx.sources.record(self._states(states))
        report.versions += len(rows)
        return complete

    async def _version(
        self, name: str, upstream: dict[str, Any], state: PackageState, dists: list[DistRow], report: SyncReport
    ) -> tuple[VersionRow | None, bool]:
        """The row to serve for one upstream version and whether it is complete (its archive is stored)."""
        version = str(upstream.get("version", ""))
        try:
            normalized = normalize(version)
        except InvalidVersion:
            report.skipped.append((f"{name} {version}", "invalid version"))
            return None, True
        try:
            check_links(upstream, version)
        except BrokerError as exc:
            # Served as it is, Composer would fail to load any version of the package (its vcs driver skips it).
            report.skipped.append((f"{name} {version}", str(exc)))
            return None, True
        dist = upstream.get("dist")
        if not isinstance(dist, dict) or dist.get("type") != "zip" or not dist.get("url"):
            report.skipped.append((f"{name} {version}", "no zip dist to mirror"))
            return None, True
        url = str(dist["url"])
        stored = state.dist_from(url) or next((d for d in dists if d.upstream_url == url), None)
        if stored is None:
            # One request for the archive, one store call, and room left for the package's write.
            if not self.budget.affords(fetches=1, services=2):
                return state.versions.get(normalized), False  # keep serving its previous state, if any
            try:
                stored = await self._mirror(name, url, str(dist.get("shasum") or ""))
            except budget.BudgetExhausted:
                raise
            except BrokerError as exc:
                report.skipped.append((f"{name} {version}", str(exc)))
                return state.versions.get(normalized), True
            dists.append(stored)
        data = {k: v for k, v in upstream.items() if k not in _DROPPED}
        data.update(name=name, version=version, version_normalized=normalized)
        data["dist"] = {
            "type": "zip",
            "url": dist_path(name, stored.reference),
            "reference": str(dist.get("reference") or stored.reference),
            "shasum": stored.shasum,
        }
        row = VersionRow(normalized, version, is_dev(normalized), data["dist"]["reference"], json.dumps(data), None)
        return row, True

    async def _mirror(self, name: str, url: str, shasum: str) -> DistRow:
        """Download an archive, check it against the upstream shasum, store it. Recorded in the package's
        write (after this store), not one call per archive."""
        headers = await self._headers_for(url)
        return await mirror_archive(
            self.ctx, self.http, name, url, shasum=shasum, headers=headers, guard=self._guard, record=False
        )


def _versions(body: bytes, name: str) -> list[dict[str, Any]]:
    try:
        document = untrusted_json.loads(body)
        versions = document["packages"].get(name, [])
    except (ValueError, KeyError, AttributeError, TypeError):
        raise SourceError(f"the metadata of {name} is not a Composer 2 p2 file") from None
    if isinstance(versions, dict):  # the older {"1.0.0": {...}} form
        versions = list(versions.values())
    if document.get("minified") == "composer/2.0":
        versions = expand(versions)
    return [v for v in versions if isinstance(v, dict) and str(v.get("name", name)).lower() == name]
