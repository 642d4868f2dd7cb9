"""Bitbucket Cloud (REST API 2.0) as a provider source: refs, files, dates and archives read over HTTP, no git
binary.

Facts this follows (Composer's GitBitbucketDriver and the Bitbucket Cloud REST documentation):
* a repository is `/repositories/{workspace}/{slug}`: `mainbranch.name` is the default branch, `links.clone`
  the clone URLs (the https one carries the user name, which is removed), `updated_on` moves with pushes;
* `/refs/tags` and `/refs/branches` give `target.hash` (the commit, annotated tags already peeled) and
  `target.date`; pages are linked by an absolute `next` URL in the JSON (it must stay on the API's origin);
* a commit's time is its `date` (`/commit/{sha}`), which is what Composer's driver reports;
* files are raw at `/src/{commit}/{path}`; archives are served by the web host, not the API:
  `https://bitbucket.org/{workspace}/{slug}/get/{commit}.zip`, entries under `{workspace}-{slug}-{sha12}/`.

The archive host: for the public API (api.bitbucket.org) it is https://bitbucket.org; for any other API URL
(a test fixture, a proxy) it is that URL's own origin. The download goes through a second ProviderApi for that
origin with the same credentials, so credentials only ever go to the API's origin and the archive host.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from ...errors import InvalidInput, SourceError
from ...ports import GitRef
from ...ports.blob import Blob
from ..credentials import Credentials
from ..vcs.repository import Listing
from .api import ApiResult, ProviderApi
from .gitlab import remember_listing, remembered_listing, unix
from .provider import Provider, WebhookCall, WebhookRefused

DEFAULT_API_URL = "https://api.bitbucket.org/2.0"
PUBLIC_API_HOST, PUBLIC_WEB = "api.bitbucket.org", "https://bitbucket.org"
PAGELEN = 100
#: A workspace or repository slug (Bitbucket: letters, digits, `_`, `-`, `.`).
_SLUG = re.compile(r"[A-Za-z0-9_.-]{1,255}")
_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
MAX_REF_NAME = 1024
#: Only the fields read here (Bitbucket's partial responses keep pages small).
REF_FIELDS = "values.name,values.target.hash,values.target.date,next"
REPOSITORY_FIELDS = "values.full_name,values.mainbranch.name,next"
EVENTS = {"repo:push": "push", "repo:updated": "push", "diagnostics:ping": "ping"}


def checked_path(path: str, *, parts: int = 2) -> str:
    """`workspace/repository`, or InvalidInput (the path ends up in API URLs)."""
    segments = path.strip().strip("/").split("/")
    if len(segments) != parts or any(not _SLUG.fullmatch(s) or s in (".", "..") for s in segments):
        what = "WORKSPACE/REPOSITORY" if parts == 2 else "a workspace"
        raise InvalidInput(f"{path!r} is not a Bitbucket path: expected {what}, letters, digits, '_', '-' and '.'")
    return "/".join(segments)


def repository_url(api_url: str, path: str) -> str:
    return f"{api_url.rstrip('/')}/repositories/{checked_path(path)}"


def auth_headers(credentials: Credentials) -> dict[str, str]:
    """A username and app password (or Atlassian API token) as HTTP Basic; an access token as Bearer."""
    if credentials.username and credentials.password:
        pair = f"{credentials.username}:{credentials.password}".encode()
        return {"authorization": f"Basic {base64.b64encode(pair).decode()}"}
    token = (credentials.token or "").strip()
    return {"authorization": f"Bearer {token}"} if token else {}


def web_origin(api_url: str) -> str:
    """Where archives are served: bitbucket.org for the public API, else the API URL's own origin."""
    parts = urlsplit(api_url)
    if (parts.hostname or "").lower() == PUBLIC_API_HOST:
        return PUBLIC_WEB
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def _ref(entry: Any, kind: str) -> tuple[GitRef, int | None] | None:
    if not isinstance(entry, dict) or not isinstance(target := entry.get("target"), dict):
        return None
    name, sha = entry.get("name"), target.get("hash")
    if not isinstance(name, str) or not 0 < len(name) <= MAX_REF_NAME:
        return None
    if not isinstance(sha, str) or not _SHA.fullmatch(sha):
        return None
    return GitRef(name, kind, sha), unix(target.get("date"))


def _values(data: Any) -> list[Any]:
    values = data["values"]
    if not isinstance(values, list):
        raise TypeError("not a list")
    return values


def _next(result: ApiResult) -> str | None:
    link = result.data.get("next") if isinstance(result.data, dict) else None
    return link if isinstance(link, str) and link else None


def _clone_url(repository: dict[str, Any]) -> str | None:
    """The https clone URL without the user name Bitbucket puts in it."""
    links = repository.get("links")
    clones = links.get("clone") if isinstance(links, dict) else None
    for clone in clones if isinstance(clones, list) else []:
        if isinstance(clone, dict) and clone.get("name") == "https" and isinstance(href := clone.get("href"), str):
            parts = urlsplit(href)
            if parts.scheme == "https" and len(href) < 2048:
                return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
    return None


class BitbucketRepository:
    """One Bitbucket Cloud repository read through the REST API 2.0. A no-change sync costs one request: the
    repository, asked conditionally, with the same `updated_on` and main branch as at the last listing."""

    def __init__(self, api: ProviderApi, path: str, *, clock: Callable[[], float] = time.time) -> None:
        self.api = api
        self.path = checked_path(path)
        self._base = f"repositories/{self.path}"
        self._clock = clock
        clone = api.state.get("clone_url")
        self.source: Mapping[str, str] | None = {"type": "git", "url": clone} if isinstance(clone, str) else None

    async def listing(self) -> Listing:
        state, now = self.api.state, self._clock()
        cached, previous = remembered_listing(state, now), state.get("marker")
        trusted = (
            cached is not None and isinstance(previous, list) and len(previous) == 2 and isinstance(previous[0], str)
        )
        if not trusted:  # a 304 would leave nothing to compare with: ask unconditionally
            state.set("etag:repository", None)
        result = await self.api.get_json(self._base, remember="repository")
        if result.status == 404:
            raise SourceError(f"Bitbucket has no repository {self.path}, or the source's credentials cannot read it")
        if result.not_modified:
            marker = previous
        elif isinstance(result.data, dict):
            marker = self._read_repository(result.data)
        else:
            raise SourceError(f"Bitbucket answered something else than a repository for {self.path}")
        if trusted and cached is not None and marker == previous:
            default = state.get("default_branch")
            return Listing(cached, default if isinstance(default, str) else None, unchanged=True)
        state.set("listed_at", None)  # until the listing below succeeds, nothing stored is to be trusted
        refs: list[GitRef] = []
        dates: dict[str, int] = {}
        for kind, endpoint in (("tag", "tags"), ("branch", "branches")):
            first = f"{self._base}/refs/{endpoint}?pagelen={PAGELEN}&fields={REF_FIELDS}"
            for entry in await self.api.pages(first, items=_values, next_url=_next):
                if (parsed := _ref(entry, kind)) is not None:
                    refs.append(parsed[0])
                    if parsed[1] is not None:
                        dates[parsed[0].commit] = parsed[1]
        default = marker[1] if isinstance(marker, list) else None
        state.set("dates", dates)
        state.set("marker", marker)
        remember_listing(state, refs, default, now)
        return Listing(refs, default)

    def _read_repository(self, data: dict[str, Any]) -> list[Any]:
        """Keep the clone URL as `source`; return the change marker [updated_on, main branch]."""
        if (clone := _clone_url(data)) is not None:
            self.source = {"type": "git", "url": clone}
            self.api.state.set("clone_url", clone)
        main = data.get("mainbranch")
        branch = main.get("name") if isinstance(main, dict) else None
        branch = branch if isinstance(branch, str) and 0 < len(branch) <= MAX_REF_NAME else None
        updated = data.get("updated_on")
        return [updated if isinstance(updated, str) else None, branch]

    async def read_files(self, commit_paths: list[tuple[str, str]]) -> list[bytes | None]:
        return [await self.api.get_file(file_url(self.path, path, commit)) for commit, path in commit_paths]

    async def times(self, commits: list[str]) -> dict[str, int]:
        """Each commit's `date` (what Composer's driver reports): from the listing, else one request each."""
        known = self.api.state.get("dates")
        known = known if isinstance(known, dict) else {}
        found: dict[str, int] = {}
        for sha in dict.fromkeys(commits):
            if isinstance(stamp := known.get(sha), int):
                found[sha] = stamp
            elif _SHA.fullmatch(sha):
                result = await self.api.get_json(f"{self._base}/commit/{sha}?fields=hash,date")
                data = result.data if result.status == 200 and isinstance(result.data, dict) else {}
                if (stamp := unix(data.get("date"))) is not None:
                    found[sha] = stamp
        return found

    async def archive(self, commit: str) -> Blob:
        web = self.api.for_origin(web_origin(self.api.base_url))
        try:
            return await web.download(f"{self.path}/get/{quote(commit, safe='')}.zip")
        finally:
            self.api.requests += web.requests


def file_url(repository: str, path: str, ref: str) -> str:
    return f"repositories/{repository}/src/{quote(ref, safe='')}/{quote(path, safe='/')}"


def verify_webhook(headers: Mapping[str, str], body: bytes, secret: str) -> WebhookCall:
    """Bitbucket Cloud signs the body: X-Hub-Signature is `sha256=` + hex HMAC-SHA256(secret, body). The delivery
    id is X-Request-UUID. Events other than pushes (and repository updates, which may move the main branch)
    are answered as pings."""
    given = headers.get("x-hub-signature", "").strip().lower()
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not secret or not hmac.compare_digest(given.encode(), expected.encode()):
        raise WebhookRefused("the X-Hub-Signature header is missing or is not this body signed with the webhook secret")
    delivery = headers.get("x-request-uuid") or None
    return WebhookCall(delivery[:256] if delivery else None, EVENTS.get(headers.get("x-event-key", ""), "ping"))


async def list_repositories(api: ProviderApi, workspace: str) -> list[str]:
    """Every repository of a workspace whose main branch has a composer.json."""
    first = f"repositories/{checked_path(workspace, parts=1)}?pagelen={PAGELEN}&fields={REPOSITORY_FIELDS}"
    found = []
    for repository in await api.pages(first, items=_values, next_url=_next):
        if not isinstance(repository, dict):
            continue
        name, main = repository.get("full_name"), repository.get("mainbranch")
        branch = main.get("name") if isinstance(main, dict) else None
        if not isinstance(name, str) or not isinstance(branch, str):
            continue
        try:
            name = checked_path(name)
        except InvalidInput:
            continue
        if await api.get_file(file_url(name, "composer.json", branch)) is not None:
            found.append(name)
    return found


BITBUCKET = Provider(
    name="bitbucket",
    title="Bitbucket",
    default_api_url=DEFAULT_API_URL,
    path_help="WORKSPACE/REPOSITORY",
    repository_url=repository_url,
    auth_headers=auth_headers,
    repository=BitbucketRepository,
    verify_webhook=verify_webhook,
    list_repositories=list_repositories,
    webhook_help="the repository's Repository settings > Webhooks: this URL, the secret, trigger Repository push",
)
