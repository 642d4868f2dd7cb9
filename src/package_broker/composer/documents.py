"""The metadata files Composer downloads, built once and then served from cache.

* `p2/<name>.json` (tagged releases) and `p2/<name>~dev.json` (branches): minified `composer/2.0`,
  versions newest first, absolute dist URLs.
* `packages.json`: per token, because `available-packages` lists exactly what that token may see.

A `Document` carries the JSON, its gzip encoding and its Last-Modified, so a warm request only picks
bytes to send.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any

from ..cache import Cache, Defer
from ..catalog.store import Catalog, VersionRow
from .minifier import minify
from .names import naming_error

#: Built documents stay in the shared key/value store this long (they are also dropped on every change).
DOCUMENT_TTL = 24 * 3600

_NUMERIC = re.compile(r"^(\d+(?:\.\d+)*)(?:-(alpha|beta|RC|patch)((?:\.?\d+)*))?$")
_STABILITY_RANK = {"alpha": 1, "beta": 2, "RC": 3, None: 4, "patch": 5}


@dataclass(frozen=True, slots=True)
class Document:
    body: bytes
    gzipped: bytes
    #: Unix seconds; sent as Last-Modified and compared with If-Modified-Since.
    last_modified: int
    #: The base URL baked into absolute URLs inside `body`.
    base_url: str
    #: `last_modified` as an HTTP date, formatted once instead of on every request.
    last_modified_header: str


def encode_json(data: Any) -> bytes:
    """Compact JSON, slashes and non-ASCII unescaped (as packagist.org dumps it)."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def make_document(body: bytes, last_modified: int, base_url: str) -> Document:
    gzipped = gzip.compress(body, compresslevel=6, mtime=0)
    return Document(body, gzipped, last_modified, base_url, formatdate(last_modified, usegmt=True))


def _from_cache(gzipped: bytes, metadata: dict[str, str]) -> Document:
    modified = int(metadata["lm"])
    return Document(gzip.decompress(gzipped), gzipped, modified, metadata["base"], formatdate(modified, usegmt=True))


def tag_order(version_normalized: str) -> tuple[Any, ...]:
    """A sort key for tagged versions, oldest first (`1.0.0-beta1` < `1.0.0` < `1.0.0.1`)."""
    match = _NUMERIC.match(version_normalized)
    if match is None:
        return ((), 0, ())
    numbers = tuple(int(n) for n in match[1].split("."))
    suffix = tuple(int(n) for n in re.findall(r"\d+", match[3] or ""))
    return (numbers, _STABILITY_RANK[match[2]], suffix)


def p2_body(name: str, rows: list[VersionRow], *, dev: bool, base_url: str) -> bytes:
    """Return the JSON of `p2/<name>.json` (dev=False) or `p2/<name>~dev.json` (dev=True)."""
    selected = [row for row in rows if row.is_dev == dev]
    versions = []
    for row in selected:
        version = json.loads(row.data)
        dist = version.get("dist")
        if isinstance(dist, dict) and str(dist.get("url", "")).startswith("/"):
            version["dist"] = {**dist, "url": base_url + dist["url"]}
        versions.append(version)
    if dev:
        versions.sort(key=lambda v: (not v.get("default-branch", False), v["version"]))
    else:
        versions.sort(key=lambda v: tag_order(v["version_normalized"]), reverse=True)
    return encode_json({"minified": "composer/2.0", "packages": {name: minify(versions)}})


def root_body(names: list[str], base_url: str) -> bytes:
    """Return the JSON of `packages.json` for a token that may see `names`."""
    return encode_json(
        {
            "packages": {},
            "metadata-url": f"{base_url}/p2/%package%.json",
            "available-packages": names,
            "notify-batch": f"{base_url}/downloads/",
            "search": f"{base_url}/search.json?q=%query%&type=%type%",
            "list": f"{base_url}/list.json",
        }
    )


@dataclass(frozen=True, slots=True)
class NameIndex:
    names: tuple[str, ...]
    #: When the set of names last changed.
    modified_at: int


class Documents:
    """Builds documents from the catalog and keeps them in the two-level cache."""

    def __init__(self, catalog: Catalog, cache: Cache) -> None:
        self.catalog = catalog
        self.cache = cache

    async def p2(self, name: str, *, dev: bool, base_url: str, defer: Defer | None = None) -> Document | None:
        """Return the p2 document of a package, or None if no such package is served.

        A document built here is stored in the key/value store through `defer` (after the response).
        """
        key = f"p2:{name}~dev" if dev else f"p2:{name}"
        document = await self.cache.get(key, _from_cache)
        if document is not None and document.base_url == base_url:
            return document
        if naming_error(name) is not None:
            return None
        package = await self.catalog.package(name)
        if package is None:
            return None
        rows = await self.catalog.served_versions(name)
        modified = package.dev_modified_at if dev else package.tags_modified_at
        document = make_document(p2_body(name, rows, dev=dev, base_url=base_url), modified, base_url)
        await self.cache.put(
            key,
            document.gzipped,
            document,
            ttl=DOCUMENT_TTL,
            metadata={"lm": str(modified), "base": base_url},
            defer=defer,
        )
        return document

    async def names(self, defer: Defer | None = None) -> NameIndex:
        """Return every served package name and when that list last changed."""
        index = await self.cache.get("names", _index_from_cache)
        if index is not None:
            return index
        names, modified = await self.catalog.names()
        index = NameIndex(tuple(names), modified)
        data = encode_json({"names": names, "modified_at": modified})
        await self.cache.put("names", data, index, ttl=DOCUMENT_TTL, defer=defer)
        return index

    async def root(
        self,
        may_see: Callable[[str], bool],
        scope_key: str,
        acl_modified_at: int,
        base_url: str,
        defer: Defer | None = None,
    ) -> Document:
        """Return `packages.json` as a token sees it: `may_see` is its `Token.may_see`, `scope_key` equal
        for tokens that see the same packages (`Token.scope_key`)."""
        index = await self.names(defer)
        key = f"root:{base_url}:{acl_modified_at}:{scope_key}:{index.modified_at}"
        document: Document | None = self.cache.remembered(key)
        if document is None:
            visible = [n for n in index.names if may_see(n)]
            modified = max(index.modified_at, acl_modified_at)
            document = make_document(root_body(visible, base_url), modified, base_url)
            self.cache.remember(key, document)
        return document


def _index_from_cache(data: bytes, _metadata: dict[str, str]) -> NameIndex:
    decoded = json.loads(data)
    return NameIndex(tuple(decoded["names"]), int(decoded["modified_at"]))
