"""The logic GitHub and Gitea/Forgejo share: both expose a repository the same way (one repository
document carrying a marker that moves on every push, tags and branches paginated with Link headers, a
raw-file endpoint, one commit per request, a zip endpoint), and both sign webhooks with HMAC-SHA256.
`RestRepository` is that logic, driven by a `Dialect` table; `Signing` checks the webhook signatures.
github.py and gitea.py each hold their provider's tables.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from ...errors import InvalidInput, SourceError
from ...ports import GitRef
from ...ports.blob import Blob
from ..vcs.repository import Listing
from .api import ApiResult, ProviderApi, next_link
from .provider import WebhookCall, WebhookRefused

#: OWNER/REPO with the characters GitHub and Gitea allow in names (nothing that could leave the API path).
_PATH = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}/[A-Za-z0-9._-]{1,100}")
_OWNER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
#: A full commit id (SHA-1, or SHA-256 repositories).
_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_DELIVERY = re.compile(r"[A-Za-z0-9._-]{1,100}")
#: A stored listing is trusted (with an unchanged push marker) for this long, then read again anyway: a
#: change that does not move the marker (a branch deleted in the web UI, a mirror's tag on an old commit)
#: is seen within a day.
RELIST_SECONDS = 24 * 3600
#: A listing taken this soon after the marker's time is not trusted to be complete: the marker has a
#: one-second resolution, and the provider's replicas may answer the listing before they show the push.
SETTLE_SECONDS = 60


def repository_path(title: str, path: str) -> str:
    """`path` if it is OWNER/REPO in safe characters, else InvalidInput saying what is expected."""
    if not _PATH.fullmatch(path) or path.split("/")[1] in (".", ".."):
        raise InvalidInput(
            f"a {title} repository is named OWNER/REPO (letters, digits, '.', '-', '_'), not {path[:200]!r}"
        )
    return path


def owner_name(title: str, owner: str) -> str:
    if not _OWNER.fullmatch(owner):
        raise InvalidInput(
            f"a {title} organisation or user name has letters, digits, '.', '-', '_', not {owner[:200]!r}"
        )
    return owner


def unix_time(value: Any) -> int | None:
    """Unix seconds of an ISO 8601 date as both APIs write it ("2024-05-01T10:00:00Z", "...+02:00")."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        moment = datetime.fromisoformat(value)
        return int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp())
    except (ValueError, OverflowError, OSError):
        return None


def public_clone_url(value: Any) -> str | None:
    """An http(s) clone URL without credentials, or None (nothing else may reach a version's `source`)."""
    if not isinstance(value, str) or len(value) > 2000 or any(c in value for c in " \t\r\n"):
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return None
    return value


def _dig(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _list(data: Any) -> list[Any]:
    if not isinstance(data, list):
        raise TypeError("not a list")
    return data


def _next(result: ApiResult) -> str | None:
    return next_link(result.headers)


def _file_path(path: str) -> str | None:
    """`path` URL-quoted segment by segment; None for a path that could step out of the repository."""
    segments = path.split("/")
    if not path or any(s in ("", ".", "..") for s in segments):
        return None
    return "/".join(quote(s, safe="") for s in segments)


@dataclass(frozen=True, slots=True)
class Dialect:
    """Where one provider keeps what `RestRepository` reads (paths relative to /repos/OWNER/REPO/)."""

    #: Accept header for JSON documents.
    json_accept: str
    #: The repository document's field that moves on every push.
    marker: str
    #: First page of tags and of branches (the next pages come from Link headers).
    tags: str
    branches: str
    #: The commit of one item of each listing.
    tag_commit: Callable[[Any], Any]
    branch_commit: Callable[[Any], Any]
    #: A file at a commit, with `{path}` and `{ref}` (both URL-quoted), and the Accept header for raw bytes.
    file: str
    file_accept: str
    #: One commit's document (`commit.committer.date` inside), with `{sha}`.
    commit: str
    #: The zip of a commit, with `{sha}`.
    archive: str


class RestRepository:
    """A repository read through a GitHub-shaped REST API (see `Dialect`).

    What it keeps in the source's UpstreamState:
    * "repo": {"marker", "default_branch", "clone_url"} from the repository document;
    * "listing": [[name, kind, commit], ...] and "listed_at" (Unix seconds) of the last full listing;
    * "times": {commit: Unix time}, so each commit is dated once (pruned to the listed commits).
    The API adds "etag:repo" (the conditional request) and "rate_limited_until".
    """

    def __init__(
        self, api: ProviderApi, path: str, dialect: Dialect, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.api = api
        self.path = repository_path(api.provider, path)
        self.dialect = dialect
        self._clock = clock
        self._base = f"/repos/{self.path}"
        seen = api.state.get("repo")
        self.source: Mapping[str, str] | None = self._source_of(seen if isinstance(seen, dict) else {})

    @staticmethod
    def _source_of(about: Mapping[str, Any]) -> dict[str, str] | None:
        url = public_clone_url(about.get("clone_url"))
        return {"type": "git", "url": url} if url else None

    # -- listing ----------------------------------------------------------------------------------------
    async def listing(self) -> Listing:
        state = self.api.state
        about = await self._about()
        self.source = self._source_of(about)
        previous = _stored_refs(state.get("listing"))
        if previous is not None and about == state.get("repo") and self._trusted(about):
            return Listing(previous, about["default_branch"], unchanged=True)
        refs = await self._refs(self.dialect.tags, "tag", self.dialect.tag_commit)
        refs += await self._refs(self.dialect.branches, "branch", self.dialect.branch_commit)
        state.set("repo", about)
        state.set("listing", [[r.name, r.kind, r.commit] for r in refs])
        state.set("listed_at", int(self._clock()))
        times = state.get("times")
        if isinstance(times, dict):
            listed = {r.commit for r in refs}
            state.set("times", {sha: when for sha, when in times.items() if sha in listed})
        return Listing(refs, about["default_branch"])

    async def _about(self) -> dict[str, Any]:
        """The repository document's marker, default branch and clone URL: one conditional request."""
        result = await self.api.get_json(self._base, remember="repo", accept=self.dialect.json_accept)
        if result.not_modified:
            stored = self.api.state.get("repo")
            if isinstance(stored, dict):
                return stored
            # A 304 for a document we no longer hold: ask once more, unconditionally.
            result = await self.api.get_json(self._base, accept=self.dialect.json_accept)
        if result.status == 404:
            raise SourceError(
                f"{self.api.provider} has no repository {self.path}, or the source's token cannot read it"
            )
        data = result.data
        if not isinstance(data, dict):
            raise SourceError(f"{self.api.provider} {self._base} is not a repository document")
        marker, branch = data.get(self.dialect.marker), data.get("default_branch")
        return {
            "marker": marker if isinstance(marker, str) and len(marker) <= 64 else None,
            "default_branch": branch if isinstance(branch, str) and 0 < len(branch) <= 1000 else None,
            "clone_url": public_clone_url(data.get("clone_url")),
        }

    def _trusted(self, about: Mapping[str, Any]) -> bool:
        """True if the stored listing may stand for the repository whose document is `about`."""
        listed_at, pushed_at = self.api.state.get("listed_at"), unix_time(about.get("marker"))
        if not isinstance(listed_at, int) or pushed_at is None:
            return False
        return 0 <= self._clock() - listed_at < RELIST_SECONDS and listed_at - pushed_at >= SETTLE_SECONDS

    async def _refs(self, first: str, kind: str, commit_of: Callable[[Any], Any]) -> list[GitRef]:
        items = await self.api.pages(f"{self._base}/{first}", items=_list, next_url=_next)
        refs: dict[str, GitRef] = {}
        for item in items:
            name = _dig(item, "name")
            try:
                commit = commit_of(item)
            except (KeyError, TypeError, AttributeError):
                continue  # a ref of another shape is skipped, not a reason to fail the listing
            if isinstance(name, str) and name and isinstance(commit, str) and _SHA.fullmatch(commit):
                refs.setdefault(name, GitRef(name, kind, commit))
        return list(refs.values())

    # -- reading ----------------------------------------------------------------------------------------
    async def read_files(self, commit_paths: list[tuple[str, str]]) -> list[bytes | None]:
        found: list[bytes | None] = []
        for commit, path in commit_paths:
            quoted = _file_path(path)
            if quoted is None:
                found.append(None)
                continue
            where = self.dialect.file.format(path=quoted, ref=quote(commit, safe=""))
            found.append(await self.api.get_file(f"{self._base}/{where}", accept=self.dialect.file_accept))
        return found

    async def times(self, commits: list[str]) -> dict[str, int]:
        cached = self.api.state.get("times")
        known: dict[str, int] = dict(cached) if isinstance(cached, dict) else {}
        found: dict[str, int] = {}
        for sha in commits:
            if isinstance(known.get(sha), int):
                found[sha] = known[sha]
                continue
            if not _SHA.fullmatch(sha):
                continue
            result = await self.api.get_json(
                f"{self._base}/{self.dialect.commit.format(sha=sha)}", accept=self.dialect.json_accept
            )
            when = unix_time(_dig(result.data, "commit", "committer", "date")) if result.status == 200 else None
            if when is not None:
                found[sha] = known[sha] = when
        if known:  # (UpstreamState.set writes nothing when the dates are the ones it holds)
            self.api.state.set("times", known)
        return found

    async def archive(self, commit: str) -> Blob:
        return await self.api.download(f"{self._base}/{self.dialect.archive.format(sha=quote(commit, safe=''))}")


def _stored_refs(value: Any) -> list[GitRef] | None:
    """The refs of a stored listing, or None when there is none (or it is not in the expected shape)."""
    if not isinstance(value, list):
        return None
    refs = []
    for entry in value:
        if not (isinstance(entry, list) and len(entry) == 3 and all(isinstance(v, str) for v in entry)):
            return None
        if entry[1] not in ("tag", "branch"):
            return None
        refs.append(GitRef(entry[0], entry[1], entry[2]))
    return refs


# -- webhooks -----------------------------------------------------------------------------------------------
#: What a provider's event asks of us. Any other event (issues, stars, ...) is acknowledged and ignored
#: (reported as "ping": nothing to do), so that a hook sending "everything" does not show failures.
EVENTS = {"ping": "ping", "push": "push", "create": "push", "delete": "push"}


@dataclass(frozen=True, slots=True)
class Signing:
    """How a provider signs its webhook calls: hex HMAC-SHA256 of the body under the hook's secret."""

    title: str
    #: Header names, most specific first: the first one present is the one checked.
    signature: tuple[str, ...]
    prefix: str
    event: tuple[str, ...]
    delivery: tuple[str, ...]

    def verify(self, headers: Mapping[str, str], body: bytes, secret: str) -> WebhookCall:
        if not secret:
            raise WebhookRefused(f"this source has no webhook secret; set one to accept {self.title} webhooks")
        given = next((headers[name] for name in self.signature if name in headers), None)
        if given is None:
            raise WebhookRefused(
                f"unsigned {self.title} webhook call (no {self.signature[-1]} header): set the webhook's secret"
            )
        expected = self.prefix + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(given.strip().lower().encode("utf-8", "replace"), expected.encode()):
            raise WebhookRefused(
                f"wrong {self.title} webhook signature: the webhook's secret differs from this source's"
            )
        event = next((headers[name] for name in self.event if name in headers), None)
        if event is None:
            raise WebhookRefused(f"not a {self.title} webhook call (no {self.event[-1]} header)")
        delivery = next((headers[name] for name in self.delivery if name in headers), None)
        return WebhookCall(
            delivery if delivery and _DELIVERY.fullmatch(delivery) else None, EVENTS.get(event.strip(), "ping")
        )


# -- listing an organisation --------------------------------------------------------------------------------
async def composer_repositories(
    api: ProviderApi, firsts: list[str], has_composer: Callable[[str, str], str], accept: str, file_accept: str
) -> list[str]:
    """OWNER/REPO of each repository listed from the first of `firsts` that exists (an organisation, then a
    user), kept if `GET has_composer(path, quoted default branch)` finds a composer.json."""
    result = None
    for first in firsts:
        result = await api.get_json(first, accept=accept)
        if result.status != 404:
            break
    if result is None or result.status == 404:
        raise SourceError(f"{api.provider} has no organisation or user {firsts[0].split('/')[2]}")
    items = _list_or_error(api, result.data)
    if (following := next_link(result.headers)) is not None:
        items += await api.pages(following, items=_list, next_url=_next)
    found = []
    for item in items:
        path, branch = _dig(item, "full_name"), _dig(item, "default_branch")
        if not isinstance(path, str) or not _PATH.fullmatch(path) or not isinstance(branch, str) or not branch:
            continue
        if _dig(item, "empty") is True:
            continue
        if await api.get_file(has_composer(path, quote(branch, safe="")), accept=file_accept) is not None:
            found.append(path)
    return sorted(set(found))


def _list_or_error(api: ProviderApi, data: Any) -> list[Any]:
    if not isinstance(data, list):
        raise SourceError(f"{api.provider} did not answer a list of repositories")
    return list(data)
