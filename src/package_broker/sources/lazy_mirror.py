"""The lazy mirror of a Composer 2 repository with `metadata-url` (packagist.org by default).

Nothing is copied in advance: `available-packages` is not needed from the upstream (packagist.org has
400,000 names). A name is fetched the first time a client asks for it and nobody private owns it
(catalog/mirror.py decides): one upstream request per metadata miss (`p2/<name>.json` or `~dev.json`,
whichever was asked), so a first request fits a Worker invocation's limits. The file is stored in
`mirror_files` with its dist URLs rewritten to the broker; each archive is fetched on its first download,
checked against the upstream's shasum and the upload rules, stored, and served from storage afterwards.

The kind's sync (server scheduler, Worker cron) keeps mirrored files fresh: one conditional request
(`If-Modified-Since`) per file, no write when the upstream answers 304, budgeted and resumable like every
sync. It also reads the upstream's `packages.json` (conditionally) for its `metadata-url` and its
`security-advisories` api-url.

A client cannot make the broker mirror all of packagist: each token may make it fetch at most
MIRROR_NAMES_PER_MINUTE new names per minute (429 past that); a name the upstream does not know is
remembered as missing for MISSING_SECONDS and costs nothing meanwhile.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .. import budget, untrusted_json
from ..access.ratelimit import RateLimiter, TooManyRequests
from ..catalog.mirror import MIRROR_KIND, MirrorFile, MirrorSource, MirrorStore
from ..catalog.store import VersionRow, dist_path
from ..composer.documents import DOCUMENT_TTL, Document, encode_json, make_document, p2_body
from ..composer.manifest import check_links
from ..composer.minifier import expand, minify
from ..composer.versions import normalize
from ..errors import BrokerError, InvalidVersion, SourceError
from ..ports import HttpResponse
from .composer_repo import get_metadata, read_root, resolve_metadata_url, root_url
from .context import SyncContext
from .dists import mirror_archive
from .report import SyncReport
from .store import Source

if TYPE_CHECKING:
    from ..access.store import Token
    from ..broker import Broker
    from ..cache import Defer

#: Where `source add packagist` points without a URL.
DEFAULT_URL = "https://repo.packagist.org"
#: The only host a mirror's GitHub token is sent to.
GITHUB_API_HOST = "api.github.com"
#: A name the upstream did not know is not asked about again for this long.
MISSING_SECONDS = 600
#: The largest mirrored file we store (D1 stores at most 2,000,000 bytes per value).
MAX_STORED_BYTES = 1_900_000
#: Files one refresh pass reads from the database at a time.
_PAGE = 200
#: Fields of an upstream version object not passed on (our own dist; downloads are reported to us).
_DROPPED = ("dist", "notification-url", "installation-source", "uid")


def dist_reference(upstream_url: str) -> str:
    """The reference of a mirrored archive in our dist URL: the SHA-1 of the URL it comes from (the upstream
    reference may be anything, and two URLs may carry one reference)."""
    return hashlib.sha1(upstream_url.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Fetched:
    """One upstream metadata file, as it will be stored (versions minified, dist URLs ours)."""

    status: int
    versions: str | None = None
    dists: str | None = None
    last_modified: str | None = None


class Upstream:
    """The upstream side of one lazy mirror source: its root file, p2 files and archives, over `http`."""

    def __init__(self, ctx: SyncContext, source: Source | MirrorSource) -> None:
        self.ctx = ctx
        self.source_id = source.id
        self.url = source.url.rstrip("/")
        self.http = ctx.need_http()
        self.sealed = source.credentials

    async def _dist_headers(self, url: str) -> dict[str, str]:
        """A GitHub token, only for api.github.com: packagist's dist URLs point there, and GitHub allows 60
        anonymous API requests an hour (a redirect to codeload.github.com does not carry it along)."""
        if not self.sealed or urlsplit(url).hostname != GITHUB_API_HOST:
            return {}
        token = (await self.ctx.open_credentials(self.sealed)).get("token")
        return {"authorization": f"token {token}"} if token else {}

    async def _guard(self, url: str) -> None:
        await self.ctx.guard(self.url)(url)

    async def get(self, url: str, since: str | None = None) -> HttpResponse:
        return await get_metadata(self.http, url, {"if-modified-since": since} if since else {}, self._guard)

    async def root(self, known: dict[str, Any]) -> dict[str, Any]:
        """What the upstream's packages.json says (metadata-url, advisories api-url): `known` if unchanged."""
        url = root_url(self.url)
        response = await self.get(url, known.get("root_last_modified") if known.get("metadata_url") else None)
        if response.status == 304:
            return known
        root, metadata_url = read_root(url, response)
        found: dict[str, Any] = {"metadata_url": metadata_url}
        advisories = root.get("security-advisories")
        api_url = advisories.get("api-url") if isinstance(advisories, dict) else None
        if isinstance(api_url, str) and api_url:
            found["advisories_url"] = resolve_metadata_url(url, api_url)
        if response.headers.get("last-modified"):
            found["root_last_modified"] = response.headers["last-modified"]
        return found

    async def fetch(self, metadata_url: str, name: str, dev: bool, since: str | None) -> Fetched:
        """One request for `p2/<name>.json` (or `~dev.json`); 304 and 404 come back as they are."""
        url = metadata_url.replace("%package%", name + ("~dev" if dev else ""))
        response = await self.get(url, since)
        if response.status in (304, 404, 410):
            return Fetched(404 if response.status == 410 else response.status)
        if response.status != 200:
            raise SourceError(f"{urlsplit(url).path} answered HTTP {response.status}")
        versions, dists = served_versions(response.body, name, dev)
        stored = encode_json(minify(versions)).decode("utf-8")
        if len(stored) > MAX_STORED_BYTES:
            raise SourceError(f"the metadata of {name} is too large to mirror ({len(stored)} bytes)")
        return Fetched(200, stored, json.dumps(dists, separators=(",", ":")), response.headers.get("last-modified"))

    async def store_dist(self, name: str, reference: str, url: str, shasum: str) -> None:
        """Download one archive (capped), check it against the upstream shasum and the upload rules, store it."""
        headers = await self._dist_headers(url)
        await mirror_archive(
            self.ctx, self.http, name, url, shasum=shasum, headers=headers, guard=self._guard, reference=reference
        )


def served_versions(body: bytes, name: str, dev: bool) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """The version objects we serve from an upstream p2 file, and where each archive comes from.

    Versions Composer could not load (invalid version, broken links) or without a zip dist are left out;
    dist URLs point at the broker (`/dists/<name>/<sha1 of the upstream URL>.zip`), the upstream shasum is
    kept (it is the SHA-1 of the very bytes we will serve, or empty, as packagist's often is)."""
    try:
        document = untrusted_json.loads(body)
        versions = document["packages"].get(name, [])
    except (ValueError, KeyError, AttributeError, TypeError):
        raise SourceError(f"the metadata of {name} is not a Composer 2 p2 file") from None
    if isinstance(versions, dict):
        versions = list(versions.values())
    if not isinstance(versions, list):
        raise SourceError(f"the metadata of {name} is not a Composer 2 p2 file")
    if document.get("minified") == "composer/2.0":
        versions = expand(versions)
    served: list[dict[str, Any]] = []
    dists: dict[str, list[str]] = {}
    for upstream in versions:
        if not isinstance(upstream, dict) or str(upstream.get("name", name)).lower() != name:
            continue
        version = str(upstream.get("version", ""))
        try:
            normalized = normalize(version)
            check_links(upstream, version)
        except (InvalidVersion, BrokerError):
            continue
        dist = upstream.get("dist")
        if not isinstance(dist, dict) or dist.get("type") != "zip" or not isinstance(dist.get("url"), str):
            continue
        url = dist["url"]
        if urlsplit(url).scheme not in ("http", "https"):
            continue
        shasum = str(dist.get("shasum") or "").lower()
        reference = dist_reference(url)
        dists[reference] = [url, shasum]
        data = {k: v for k, v in upstream.items() if k not in _DROPPED}
        data.update(name=name, version=version, version_normalized=normalized)
        data["dist"] = {
            "type": "zip",
            "url": dist_path(name, reference),
            "reference": str(dist.get("reference") or reference),
            "shasum": shasum,
        }
        served.append(data)
    return served, dists


def build_document(name: str, file: MirrorFile, base_url: str) -> Document:
    """The p2 document of a mirrored file, built exactly as a private package's is (composer/documents.py)."""
    rows = [
        VersionRow(v["version_normalized"], v["version"], file.dev, v["dist"]["reference"], json.dumps(v))
        for v in expand(json.loads(file.versions or "[]"))
    ]
    return make_document(p2_body(name, rows, dev=file.dev, base_url=base_url), file.modified_at, base_url)


class LazyMirror:
    """The request side: the p2 and dist miss paths, and what packages.json says about the mirror."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.store = MirrorStore(broker.ports.db, broker.ports.clock)
        self.limiter = RateLimiter(broker.rate_limiter.counter, broker.ports.clock, window=60)

    async def source(self) -> MirrorSource | None:
        """The enabled lazy mirror, remembered until the next change (None: there is none)."""
        cache = self.broker.cache
        found = cache.remembered("mirror:source")
        if found is None:
            found = (await self.store.source(),)
            cache.remember("mirror:source", found)
        source: MirrorSource | None = found[0]
        return source

    def _context(self) -> SyncContext:
        return SyncContext.of(self.broker)

    async def p2(
        self, name: str, *, dev: bool, base_url: str, token: Token | None, defer: Defer | None = None
    ) -> Document | None:
        """The miss path of `p2/<name>.json`: a name no private source serves. None: not served here either."""
        source = await self.source()
        if source is None:
            return None
        looked = await self.store.lookup(name, source.id)
        if not looked.decision.mirror:
            return None
        file_name = name + ("~dev" if dev else "")
        file = looked.files.get(file_name)
        now = self.broker.clock.now()
        if file is None or (file.status == "missing" and now - file.checked_at >= MISSING_SECONDS):
            await self._count_new_name(token, now)
            file = await self._first_fetch(source, name, dev, file, now)
        if file is None or file.status != "ok":
            return None
        document = build_document(name, file, base_url)
        await self.broker.cache.put(
            f"p2:{file_name}",
            document.gzipped,
            document,
            ttl=DOCUMENT_TTL,
            metadata={"lm": str(document.last_modified), "base": base_url},
            defer=defer,
        )
        return document

    async def _count_new_name(self, token: Token | None, now: int) -> None:
        limit = self.broker.settings.mirror_names_per_minute
        if limit <= 0:
            return
        key = f"mirror:{token.id if token else 'anonymous'}"
        decision = await self.limiter.hit(key, limit)
        if not decision.allowed:
            wait = max(1, decision.reset - now)
            raise TooManyRequests(
                "mirror-limit",
                f"This token asked the broker to mirror more than {limit} new packages this minute; try again in "
                f"{wait} s. Ask the broker's operator to raise MIRROR_NAMES_PER_MINUTE.",
                wait,
                token_id=token.id if token else None,
            )

    async def _first_fetch(
        self, source: MirrorSource, name: str, dev: bool, previous: MirrorFile | None, now: int
    ) -> MirrorFile | None:
        """Fetch one file the first time it is asked for (one upstream request when the root is known)."""
        upstream = Upstream(self._context(), source)
        metadata_url = source.upstream.get("metadata_url")
        if not metadata_url:  # never synced: read its packages.json first, and remember what it says
            found = await upstream.root({})
            sources = self.broker.sources
            await sources.record([sources.upstream_state_statement(source.id, found)])
            self.broker.cache.forget()
            metadata_url = found.get("metadata_url")
        fetched = await upstream.fetch(str(metadata_url), name, dev, None)
        file = _stored(source.id, name, dev, fetched, previous, now)
        if file is None:
            return None
        await self.store.save(file, changed=file.status == "ok")
        return file

    async def dist(self, name: str, reference: str) -> bool:
        """The miss path of a dist: download a mirrored version's archive on its first request. True when it
        is stored now (the caller serves it from storage)."""
        source = await self.source()
        if source is None:
            return False
        looked = await self.store.lookup(name, source.id)
        if not looked.decision.mirror:
            return False
        for file in looked.files.values():
            found = file.dist(reference)
            if found is not None:
                await Upstream(self._context(), source).store_dist(name, reference, *found)
                return True
        return False

    async def root(self, document: Document, token: Token, base_url: str) -> Document:
        """packages.json as a client of a broker with a lazy mirror must see it: no `available-packages` for
        a token that sees everything (any name may be mirrored on request), name patterns for one with
        grants, and the security-advisories API."""
        source = await self.source()
        if source is None and not await self._advisories_known():
            return document
        changed_at = source.changed_at if source is not None else 0
        key = f"mirror-root:{token.scope_key}:{base_url}:{document.last_modified}:{len(document.body)}:{changed_at}"
        remembered: Document | None = self.broker.cache.remembered(key)
        if remembered is not None:
            return remembered
        data = json.loads(document.body)
        if source is not None:
            if not token.restricted:
                data.pop("available-packages", None)
            else:
                patterns = [p if p.endswith("*") else p + "*" for p in token.allowed_package_prefixes or ()]
                data["available-package-patterns"] = patterns + list(token.allowed_packages or ())
        data["security-advisories"] = {"metadata": False, "api-url": f"{base_url}/api/security-advisories/"}
        built = make_document(encode_json(data), max(document.last_modified, changed_at), base_url)
        self.broker.cache.remember(key, built)
        return built

    async def _advisories_known(self) -> bool:
        cache = self.broker.cache
        known = cache.remembered("mirror:advisories")
        if known is None:
            row = await self.broker.ports.db.fetch_one("SELECT 1 AS found FROM advisories LIMIT 1")
            known = row is not None
            cache.remember("mirror:advisories", known)
        return bool(known)


def _stored(
    source_id: str, name: str, dev: bool, fetched: Fetched, previous: MirrorFile | None, now: int
) -> MirrorFile | None:
    """The row to store after a fetch, or None when nothing changed (a 304)."""
    file_name = name + ("~dev" if dev else "")
    if fetched.status == 304:
        return None
    if fetched.status == 404:
        if previous is not None and previous.status == "ok":
            # The upstream forgot it: keep serving what we have (lock files and installs keep working).
            return replace(previous, checked_at=now)
        return MirrorFile(source_id, file_name, name, "missing", None, None, None, now, now, now)
    modified = now
    if previous is not None and previous.status == "ok" and previous.versions == fetched.versions:
        modified = previous.modified_at
    elif previous is not None:
        modified = max(now, previous.modified_at + 1)
    requested = previous.requested_at if previous is not None else now
    versions, dists, upstream_modified = fetched.versions, fetched.dists, fetched.last_modified
    return MirrorFile(source_id, file_name, name, "ok", versions, dists, upstream_modified, modified, now, requested)


async def sync_lazy_mirror(ctx: SyncContext, source: Source) -> SyncReport:
    """Keep what was mirrored fresh: the root file, then one conditional request per mirrored file.

    A file whose name a private source or vendor took since is dropped, not refreshed. Budgeted: when the
    invocation runs out the run ends "partial" with a cursor (the last file done) and the next continues."""
    upstream = Upstream(ctx, source)
    store = MirrorStore(ctx.catalog.db, ctx.clock)
    known = await ctx.sources.upstream_state(source.id)
    found = await upstream.root(known)
    if found != known:
        await ctx.sources.record([ctx.sources.upstream_state_statement(source.id, found)])
    report = SyncReport(source.id, "ok")
    run = budget.current()
    cursor, checked, changed = source.sync_cursor, 0, 0
    while True:
        files = await store.files(source.id, after=cursor, limit=_PAGE)
        if not files:
            break
        for file in files:
            if not run.affords(fetches=1, services=3):
                report.status, report.cursor = "partial", cursor
                report.message = (
                    f"refreshed {checked} mirrored files before this run's budget ran out; the next continues"
                )
                return report
            looked = await store.lookup(file.package, source.id)
            if not looked.decision.mirror:
                await store.forget(source.id, [file.file])
                report.skipped.append((file.package, looked.decision.reason))
            else:
                try:
                    since = file.last_modified if file.status == "ok" else None
                    fetched = await upstream.fetch(found["metadata_url"], file.package, file.dev, since)
                    now = ctx.clock.now()
                    stored = _stored(source.id, file.package, file.dev, fetched, file, now)
                    if stored is not None and (stored.versions != file.versions or stored.status != file.status):
                        await store.save(stored, changed=True)
                        changed += 1
                except budget.BudgetExhausted:
                    report.status, report.cursor = "partial", cursor
                    report.message = f"refreshed {checked} mirrored files; the next run continues"
                    return report
                except BrokerError as exc:
                    report.skipped.append((file.file, str(exc)))
            checked += 1
            cursor = file.file
    report.changed = changed > 0
    report.message = f"{checked} mirrored files checked, {changed} changed, from {urlsplit(upstream.url).netloc}"
    if report.skipped:
        report.message += "; skipped " + "; ".join(f"{n}: {r}" for n, r in report.skipped[:5])
    return report


async def add_lazy_mirror(broker: Broker, url: str | None = None, github_token: str | None = None) -> Source:
    """Register the lazy mirror of `url` (packagist.org by default). One per broker: a name must have one
    answer. Every process sees it within MEMO_SECONDS (a new generation). `github_token` is stored sealed
    and sent only to api.github.com, with dist downloads.

    Raises:
        InvalidInput: not an http(s) URL. Conflict: a lazy mirror is already registered.
    """
    from ..cache import bump_statement
    from ..errors import Conflict, InvalidInput

    url = (url or DEFAULT_URL).rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.username or parts.password:
        raise InvalidInput(f"{url} is not an http(s) URL of a Composer 2 repository (without credentials)")
    existing = await broker.ports.db.fetch_one("SELECT id, url FROM sources WHERE kind = ?", (MIRROR_KIND,))
    if existing is not None:
        raise Conflict(f"a lazy mirror is already registered ({existing['id']}, {existing['url']}); remove it first")
    sealed = await broker.seal_credentials({"token": github_token}) if github_token else None
    source = await broker.sources.add(MIRROR_KIND, url, sealed)
    await broker.ports.db.batch([bump_statement(broker.clock.now())])
    broker.cache.forget()
    return source


@dataclass(frozen=True, slots=True)
class MirrorStatus:
    """What `package show` says about a name and the mirror: the decision, and the files held."""

    name: str
    source_id: str | None
    mirror: bool
    reason: str
    #: (file, status, versions, checked_at, modified_at) of each file the mirror holds.
    files: list[tuple[str, str, int, int, int]]


async def mirror_status(broker: Broker, name: str) -> MirrorStatus:
    source = await broker.mirror.store.source()
    if source is None:
        return MirrorStatus(name, None, False, "no lazy mirror is registered (source add packagist)", [])
    looked = await broker.mirror.store.lookup(name, source.id)
    files = [
        (f.file, f.status, len(json.loads(f.versions or "[]")), f.checked_at, f.modified_at)
        for f in looked.files.values()
    ]
    decision = looked.decision
    return MirrorStatus(name, source.id, decision.mirror, decision.reason, sorted(files))
