"""GitLab (gitlab.com and self-hosted, REST API v4) as a provider source: refs, files, dates and archives read
over HTTP, no git binary.

Facts this follows (Composer's GitLabDriver and the GitLab API documentation):
* a project is addressed by its URL-encoded full path (`group%2Fsub%2Fproject`); like Composer we encode every
  character but letters, digits, `-` and `_` (a `.` too: GitLab's docs encode `lib%2Fclass%2Erb`, and a path
  ending in `.json` could otherwise be read as a format suffix);
* tags and branches carry the commit they point at (`commit.id`, annotated tags already peeled) with its
  `committed_date`, which is the time Composer's GitLabDriver reports, so listed commits need no more request;
* pagination is RFC 8288 `Link` headers (with `X-Next-Page` as well).

A no-change sync costs one request: the newest push event of the project (`/events?action=pushed`), asked
conditionally. The project's `last_activity_at` is not used as the marker because GitLab moves it at most once an
hour (`Event::RESET_PROJECT_ACTIVITY_INTERVAL`): a tag pushed ten minutes after another push would go unseen.
Every push, tag pushes and deletions included, records a push event, so a new event id means "list again". The
default branch and clone URL come from the project itself, read at every full listing (at least once a day).
"""

from __future__ import annotations

import hmac
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from ...errors import InvalidInput, SourceError
from ...ports import GitRef
from ...ports.blob import Blob
from ..credentials import Credentials
from ..vcs.repository import Listing, UpstreamState
from .api import ApiResult, ProviderApi, next_link
from .provider import Provider, WebhookCall, WebhookRefused

DEFAULT_API_URL = "https://gitlab.com/api/v4"
#: A stored listing is trusted (when the push marker has not moved) for this long; then everything is re-read.
LISTING_SECONDS = 24 * 3600
PER_PAGE = 100
#: One path segment of a group or project (GitLab: letters, digits, `_`, `-`, `.`; not starting with `-`).
_SEGMENT = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.-]{0,254}")
_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
#: Ref names longer than this are skipped (they only bloat the stored state).
MAX_REF_NAME = 1024
#: X-Gitlab-Event values that mean "refs may have moved"; every other event is answered as a ping.
PUSH_EVENTS = {"Push Hook": "push", "Tag Push Hook": "push"}


def checked_path(path: str, *, minimum: int = 2) -> str:
    """`group/sub/project` as GitLab names it, or InvalidInput (the path ends up in API URLs)."""
    segments = path.strip().strip("/").split("/")
    if (
        len(segments) < minimum
        or len(segments) > 21
        or any(not _SEGMENT.fullmatch(s) or s in (".", "..") for s in segments)
    ):
        what = "GROUP/PROJECT (subgroups allowed)" if minimum > 1 else "a group or user name"
        raise InvalidInput(f"{path!r} is not a GitLab path: expected {what}, letters, digits, '_', '-' and '.'")
    return "/".join(segments)


def encode(value: str) -> str:
    """Percent-encode everything but letters, digits, `-` and `_` (Composer's GitLabDriver does the same)."""
    return quote(value, safe="").replace(".", "%2E").replace("~", "%7E")


def repository_url(api_url: str, path: str) -> str:
    return f"{api_url.rstrip('/')}/projects/{encode(checked_path(path))}"


def auth_headers(credentials: Credentials) -> dict[str, str]:
    """`Authorization: Bearer`, not `PRIVATE-TOKEN`: GitLab accepts both for personal, project and group access
    tokens, Bearer also works for OAuth tokens, and it is the header the HTTP client drops on a redirect to
    another origin (a custom header would follow it). A password (git-over-HTTPS style) is used as the token."""
    token = (credentials.token or credentials.password or "").strip()
    return {"authorization": f"Bearer {token}"} if token else {}


def unix(value: object) -> int | None:
    """Unix seconds of an ISO 8601 date as GitLab writes it (`2012-05-28T04:42:42.000-07:00`), else None."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp())


def _ref(entry: Any, kind: str) -> tuple[GitRef, int | None] | None:
    """One tag or branch of a listing, or None when the entry is not what GitLab sends."""
    if not isinstance(entry, dict) or not isinstance(commit := entry.get("commit"), dict):
        return None
    name, sha = entry.get("name"), commit.get("id")
    if not isinstance(name, str) or not 0 < len(name) <= MAX_REF_NAME:
        return None
    if not isinstance(sha, str) or not _SHA.fullmatch(sha):
        return None
    return GitRef(name, kind, sha), unix(commit.get("committed_date"))


def _array(data: Any) -> list[Any]:
    if not isinstance(data, list):
        raise TypeError("not a list")
    return data


def _next_page(first: str) -> Callable[[ApiResult], str | None]:
    """GitLab's next page: the Link header, else X-Next-Page (kept by GitLab when Link is stripped by a proxy)."""

    def follow(result: ApiResult) -> str | None:
        if link := next_link(result.headers):
            return link
        page = result.headers.get("x-next-page", "")
        return f"{first}&page={page}" if page.isdigit() else None

    return follow


def remember_listing(state: UpstreamState, refs: list[GitRef], default: str | None, now: float) -> None:
    """Keep the listing compactly (name and commit per ref), to answer an unchanged upstream without requests."""
    state.set(
        "refs",
        {
            "tags": [[r.name, r.commit] for r in refs if r.kind == "tag"],
            "branches": [[r.name, r.commit] for r in refs if r.kind == "branch"],
        },
    )
    state.set("default_branch", default)
    state.set("listed_at", int(now))


def remembered_listing(state: UpstreamState, now: float) -> list[GitRef] | None:
    """The listing stored less than LISTING_SECONDS ago, or None."""
    listed_at, stored = state.get("listed_at"), state.get("refs")
    if not isinstance(listed_at, int) or not 0 <= now - listed_at < LISTING_SECONDS or not isinstance(stored, dict):
        return None
    refs = []
    for kind, key in (("tag", "tags"), ("branch", "branches")):
        for entry in stored.get(key) or []:
            if isinstance(entry, list) and len(entry) == 2 and all(isinstance(v, str) for v in entry):
                refs.append(GitRef(entry[0], kind, entry[1]))
    return refs


class GitLabRepository:
    """One GitLab project read through the REST API (see the module docstring for the change marker)."""

    def __init__(self, api: ProviderApi, path: str, *, clock: Callable[[], float] = time.time) -> None:
        self.api = api
        self.path = checked_path(path)
        self._base = f"projects/{encode(self.path)}"
        self._clock = clock
        clone = api.state.get("clone_url")
        self.source: Mapping[str, str] | None = {"type": "git", "url": clone} if isinstance(clone, str) else None

    async def listing(self) -> Listing:
        state, now = self.api.state, self._clock()
        cached, previous = remembered_listing(state, now), state.get("newest_push")
        trusted = cached is not None and isinstance(previous, int)
        if not trusted:  # a 304 would leave nothing to compare with: ask unconditionally
            state.set("etag:pushes", None)
        pushes = await self.api.get_json(f"{self._base}/events?action=pushed&per_page=1", remember="pushes")
        newest = previous if pushes.not_modified else _newest_event(pushes)
        if trusted and cached is not None and newest == previous:
            default = state.get("default_branch")
            return Listing(cached, default if isinstance(default, str) else None, unchanged=True)
        state.set("listed_at", None)  # until the listing below succeeds, nothing stored is to be trusted
        default = await self._read_project()
        refs: list[GitRef] = []
        dates: dict[str, int] = {}
        for kind, endpoint in (("tag", "tags"), ("branch", "branches")):
            first = f"{self._base}/repository/{endpoint}?per_page={PER_PAGE}"
            for entry in await self.api.pages(first, items=_array, next_url=_next_page(first)):
                if (parsed := _ref(entry, kind)) is not None:
                    refs.append(parsed[0])
                    if parsed[1] is not None:
                        dates[parsed[0].commit] = parsed[1]
        state.set("dates", dates)
        state.set("newest_push", newest)
        remember_listing(state, refs, default, now)
        return Listing(refs, default)

    async def _read_project(self) -> str | None:
        """Read the project: its default branch (returned) and clone URL (kept as `source`)."""
        result = await self.api.get_json(self._base)
        if result.status == 404:
            raise SourceError(f"GitLab has no project {self.path}, or the source's token cannot read it")
        if not isinstance(result.data, dict):
            raise SourceError(f"GitLab answered something else than a project for {self.path}")
        clone = result.data.get("http_url_to_repo")
        if isinstance(clone, str) and clone.startswith(("https://", "http://")) and len(clone) < 2048:
            self.source = {"type": "git", "url": clone}
            self.api.state.set("clone_url", clone)
        default = result.data.get("default_branch")
        return default if isinstance(default, str) and 0 < len(default) <= MAX_REF_NAME else None

    async def read_files(self, commit_paths: list[tuple[str, str]]) -> list[bytes | None]:
        return [await self.api.get_file(file_url(self.path, path, commit)) for commit, path in commit_paths]

    async def times(self, commits: list[str]) -> dict[str, int]:
        """Committer dates (what Composer's GitLabDriver reports): from the listing, else one request each."""
        known = self.api.state.get("dates")
        known = known if isinstance(known, dict) else {}
        found: dict[str, int] = {}
        for sha in dict.fromkeys(commits):
            if isinstance(stamp := known.get(sha), int):
                found[sha] = stamp
            elif _SHA.fullmatch(sha):
                result = await self.api.get_json(f"{self._base}/repository/commits/{sha}")
                data = result.data if result.status == 200 and isinstance(result.data, dict) else {}
                if (stamp := unix(data.get("committed_date"))) is not None:
                    found[sha] = stamp
        return found

    async def archive(self, commit: str) -> Blob:
        return await self.api.download(f"{self._base}/repository/archive.zip?sha={quote(commit, safe='')}")


def _newest_event(result: ApiResult) -> int | None:
    """The id of the newest push event, or None when there is none to see (then every sync lists everything)."""
    if result.status != 200 or not isinstance(result.data, list) or not result.data:
        return None
    newest = result.data[0]
    event_id = newest.get("id") if isinstance(newest, dict) else None
    return event_id if isinstance(event_id, int) and not isinstance(event_id, bool) else None


def file_url(project: str, path: str, ref: str) -> str:
    return f"projects/{encode(project)}/repository/files/{encode(path)}/raw?ref={quote(ref, safe='')}"


def verify_webhook(headers: Mapping[str, str], body: bytes, secret: str) -> WebhookCall:
    """GitLab sends the secret itself in X-Gitlab-Token (no signature over the body): compared in constant time.

    The delivery id is Idempotency-Key (GitLab 17.4+: one per event, the same on a retry); older GitLab sends
    only X-Gitlab-Event-UUID, which is shared by every hook one action triggers, so it is combined with the
    webhook's UUID and the event name to avoid refusing a legitimate second hook as a replay. Events other
    than pushes are answered as pings: GitLab disables a webhook that keeps failing, so they must not fail."""
    given = headers.get("x-gitlab-token")
    if not secret or given is None or not hmac.compare_digest(given.encode(), secret.encode()):
        raise WebhookRefused("the X-Gitlab-Token header is missing or is not this source's webhook secret")
    event = headers.get("x-gitlab-event", "")
    delivery = headers.get("idempotency-key") or None
    if delivery is None and (uuid := headers.get("x-gitlab-event-uuid")):
        delivery = f"{uuid}/{headers.get('x-gitlab-webhook-uuid', '')}/{event}"
    return WebhookCall(delivery[:256] if delivery else None, PUSH_EVENTS.get(event, "ping"))


async def list_repositories(api: ProviderApi, group: str) -> list[str]:
    """Every project of a group (subgroups included; a user's projects when no group has that name) whose
    default branch has a composer.json."""
    namespace = encode(checked_path(group, minimum=1))
    probe = await api.get_json(f"groups/{namespace}")
    if probe.status == 404:
        first = f"users/{namespace}/projects?per_page={PER_PAGE}"
    else:
        first = f"groups/{namespace}/projects?per_page={PER_PAGE}&include_subgroups=true&with_shared=false"
    found = []
    for project in await api.pages(first, items=_array, next_url=_next_page(first)):
        if not isinstance(project, dict):
            continue
        path, branch = project.get("path_with_namespace"), project.get("default_branch")
        if not isinstance(path, str) or not isinstance(branch, str) or project.get("empty_repo") is True:
            continue
        try:
            path = checked_path(path)
        except InvalidInput:
            continue
        if await api.get_file(file_url(path, "composer.json", branch)) is not None:
            found.append(path)
    return found


GITLAB = Provider(
    name="gitlab",
    title="GitLab",
    default_api_url=DEFAULT_API_URL,
    path_help="GROUP/PROJECT (subgroups allowed: GROUP/SUBGROUP/PROJECT)",
    repository_url=repository_url,
    auth_headers=auth_headers,
    repository=GitLabRepository,
    verify_webhook=verify_webhook,
    list_repositories=list_repositories,
    webhook_help="the project's Settings > Webhooks: this URL, the secret as Secret token, Push and Tag push events",
)
