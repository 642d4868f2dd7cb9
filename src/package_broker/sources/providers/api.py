"""`ProviderApi`: what every provider source (GitHub, GitLab, Bitbucket, Gitea) needs from HTTP, in one place.

* Credentials go to the provider's API origin only; a pagination or redirect link elsewhere is refused.
* Every URL is checked against PRIVATE_UPSTREAMS (sources/addresses.py) before it is fetched.
* Bodies are capped while they arrive (MAX_METADATA_BYTES for JSON and files, MAX_UPLOAD_BYTES for archives)
  and every request has a total time cap; JSON is parsed with the broker's hostile-input limits.
* Conditional requests: `get_json(..., remember=KEY)` sends the ETag (or Last-Modified) it stored under KEY
  last time and reports a 304 as `not_modified`, so an unchanged upstream costs one cheap request.
* Rate limits: a 429, or a 403 with no requests left, raises `RateLimited` with the time to come back
  (Retry-After, X-RateLimit-Reset or RateLimit-Reset), so the sync stops and resumes later.
* Errors are sentences naming the provider and the path, never the token.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ... import untrusted_json
from ...errors import SourceError
from ...ports import HttpClient, HttpResponse
from ...ports.blob import Blob
from ...ports.http_client import MAX_METADATA_BYTES, Guard, same_origin
from ..vcs.repository import UpstreamState

#: Seconds one API request, and one archive download, may take in all (body included).
API_SECONDS = 30.0
ARCHIVE_SECONDS = 120.0
#: Pages read of one listing at most (100 items each: 10,000 tags or branches).
MAX_PAGES = 100
#: When a provider says fewer requests than this are left, stop before running out.
RATE_RESERVE = 2


class RateLimited(SourceError):
    """The provider asked us to slow down: nothing more is requested before `until` (Unix seconds)."""

    def __init__(self, provider: str, until: int) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(until))
        super().__init__(f"{provider} rate limit reached; the sync continues after {stamp}")
        self.until = until


@dataclass(frozen=True, slots=True)
class ApiResult:
    status: int
    headers: dict[str, str]
    #: Parsed JSON (None for a 304 or an empty body).
    data: Any
    not_modified: bool = False


def next_link(headers: Mapping[str, str]) -> str | None:
    """The rel="next" URL of an RFC 8288 Link header (GitHub, GitLab, Gitea paginate this way)."""
    for part in headers.get("link", "").split(","):
        pieces = part.split(";")
        target = pieces[0].strip()
        if target.startswith("<") and target.endswith(">"):
            if any(p.strip().replace(" ", "") in ('rel="next"', "rel=next") for p in pieces[1:]):
                return target[1:-1]
    return None


class ProviderApi:
    """HTTP calls to one provider's API on behalf of one source."""

    def __init__(
        self,
        http: HttpClient,
        *,
        provider: str,
        base_url: str,
        auth: Mapping[str, str],
        state: UpstreamState,
        guard: Guard | None = None,
        max_archive_bytes: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.http = http
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self._auth = dict(auth)
        self.state = state
        self._guard = guard
        self.max_archive_bytes = max_archive_bytes
        self._clock = clock
        #: Requests sent in this sync (for reports and the no-change benchmark).
        self.requests = 0

    def for_origin(self, base_url: str) -> ProviderApi:
        """The same source's client for another of the provider's hosts (Bitbucket serves archives from
        bitbucket.org, its API from api.bitbucket.org): same credentials, guard, state and caps. Only the
        provider's own code calls this, with a host it names itself, never one an upstream answer names."""
        return ProviderApi(
            self.http,
            provider=self.provider,
            base_url=base_url,
            auth=self._auth,
            state=self.state,
            guard=self._guard,
            max_archive_bytes=self.max_archive_bytes,
            clock=self._clock,
        )

    def url(self, path_or_url: str) -> str:
        """An absolute URL for an API path; an absolute URL must be on the API's origin (credentials go there)."""
        if "://" not in path_or_url:
            return f"{self.base_url}/{path_or_url.lstrip('/')}"
        if not same_origin(path_or_url, self.base_url):
            raise SourceError(
                f"{self.provider} pointed us at {urlsplit(path_or_url).netloc}, outside its API at "
                f"{urlsplit(self.base_url).netloc}; refused"
            )
        return path_or_url

    def _where(self, url: str) -> str:
        return f"{self.provider} {urlsplit(url).path}"

    def _check_rate(self, response: HttpResponse, url: str) -> None:
        headers = response.headers
        remaining = _int(headers.get("x-ratelimit-remaining") or headers.get("ratelimit-remaining"))
        limited = response.status == 429 or (response.status == 403 and remaining == 0)
        if not limited and (remaining is None or remaining >= RATE_RESERVE):
            return
        now = int(self._clock())
        until = now + 60
        if (retry := _int(headers.get("retry-after"))) is not None:
            until = now + retry
        elif (reset := _int(headers.get("x-ratelimit-reset") or headers.get("ratelimit-reset"))) is not None:
            # GitHub and Gitea send a Unix time; GitLab's RateLimit-Reset is one too. Seconds-from-now
            # values (small numbers) are read as such.
            until = reset if reset > 1_000_000_000 else now + reset
        self.state.set("rate_limited_until", until)
        if limited:
            raise RateLimited(self.provider, until)

    async def _send(self, url: str, headers: Mapping[str, str], max_bytes: int) -> HttpResponse:
        until = self.state.get("rate_limited_until")
        if isinstance(until, int) and until > self._clock():
            raise RateLimited(self.provider, until)
        self.requests += 1
        response = await self.http.request(
            "GET", url, headers={**self._auth, **headers}, timeout=API_SECONDS, max_bytes=max_bytes, guard=self._guard
        )
        self._check_rate(response, url)
        if response.status in (401, 403):
            raise SourceError(
                f"{self._where(url)} refused our credentials (HTTP {response.status}); check the source's token"
            )
        if response.status >= 500:
            raise SourceError(f"{self._where(url)} failed (HTTP {response.status}); the last good metadata stays")
        return response

    async def get_json(
        self,
        path_or_url: str,
        *,
        remember: str | None = None,
        accept: str = "application/json",
        missing: tuple[int, ...] = (404,),
    ) -> ApiResult:
        """GET a JSON document. With `remember`, the request is conditional on what was stored under that key
        last time, and a 304 comes back as `not_modified` (data None). A status in `missing` (404; GitHub
        also answers 422 for an unknown commit) comes back as that status, with data None."""
        url = self.url(path_or_url)
        headers = {"accept": accept}
        seen = self.state.get(f"etag:{remember}") if remember else None
        if isinstance(seen, dict):
            if seen.get("etag"):
                headers["if-none-match"] = seen["etag"]
            elif seen.get("last_modified"):
                headers["if-modified-since"] = seen["last_modified"]
        response = await self._send(url, headers, MAX_METADATA_BYTES)
        if response.status == 304 and seen:
            return ApiResult(304, response.headers, None, not_modified=True)
        if response.status in missing:
            return ApiResult(response.status, response.headers, None)
        if response.status != 200:
            raise SourceError(f"{self._where(url)} answered HTTP {response.status}")
        try:
            data = untrusted_json.loads(response.body) if response.body else None
        except ValueError:
            raise SourceError(f"{self._where(url)} did not answer valid JSON") from None
        if remember:
            marker = {k: v for k in ("etag", "last_modified") if (v := response.headers.get(k.replace("_", "-")))}
            self.state.set(f"etag:{remember}", marker or None)
        return ApiResult(200, response.headers, data)

    async def pages(
        self, path_or_url: str, *, items: Callable[[Any], list[Any]], next_url: Callable[[ApiResult], str | None]
    ) -> list[Any]:
        """Every item of a paginated listing: `items(data)` picks a page's items, `next_url(result)` the next
        page (None at the end). Stops with an error past MAX_PAGES."""
        found: list[Any] = []
        url: str | None = path_or_url
        for _ in range(MAX_PAGES):
            if url is None:
                return found
            result = await self.get_json(url)
            if result.status != 200:
                raise SourceError(f"{self._where(self.url(url))} answered HTTP {result.status}")
            try:
                found.extend(items(result.data))
            except (KeyError, TypeError, AttributeError):
                raise SourceError(f"{self._where(self.url(url))} is not the listing we expected") from None
            url = next_url(result)
        raise SourceError(f"{self.provider} listed more than {MAX_PAGES} pages; refused")

    async def get_file(self, path_or_url: str, *, accept: str = "application/octet-stream") -> bytes | None:
        """GET a raw file (capped at MAX_METADATA_BYTES); None when the provider says it does not exist."""
        url = self.url(path_or_url)
        response = await self._send(url, {"accept": accept}, MAX_METADATA_BYTES)
        if response.status == 404:
            return None
        if response.status != 200:
            raise SourceError(f"{self._where(url)} answered HTTP {response.status}")
        return response.body

    async def download(self, path_or_url: str) -> Blob:
        """GET an archive into a Blob, capped at MAX_UPLOAD_BYTES. Redirects (GitHub's codeload) are followed;
        the token goes to the API origin only."""
        url = self.url(path_or_url)
        until = self.state.get("rate_limited_until")
        if isinstance(until, int) and until > self._clock():
            raise RateLimited(self.provider, until)
        self.requests += 1
        download = await self.http.download(
            url, headers=self._auth, timeout=ARCHIVE_SECONDS, max_bytes=self.max_archive_bytes, guard=self._guard
        )
        if download.blob is None:
            if download.status in (401, 403, 429):
                raise SourceError(f"{self._where(url)} refused the archive download (HTTP {download.status})")
            raise SourceError(f"{self._where(url)} answered HTTP {download.status} for the archive")
        return download.blob


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
