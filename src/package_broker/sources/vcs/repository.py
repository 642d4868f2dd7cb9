"""`Repository`: one version-controlled repository as the VCS sync reads it, wherever it lives.

The sync (sources/vcs/sync.py) turns tags and branches into versions the way Composer's own `vcs`
repository does; it does not care whether the refs come from a local git mirror (the `git` kind, server
only) or from a provider's HTTP API (GitHub, GitLab, Bitbucket, Gitea: both runtimes, through the
HttpClient port). Each of those is one class implementing this protocol.

Every method may raise `SourceError` (the repository cannot be read: its message is shown on the source,
never containing credentials), `RateLimited` (the provider asked us to wait) or `BudgetExhausted` (the run's
budget is spent; the next run continues). A ref-level problem is not an exception here: a missing file is
None, an unknown commit is left out of `times`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ...ports import GitRef
from ...ports.blob import Blob


@dataclass(frozen=True, slots=True)
class Listing:
    """Every tag and branch, and the default branch."""

    refs: list[GitRef]
    default_branch: str | None
    #: True when the upstream said that nothing changed since the state the repository was given
    #: (conditional requests answered 304): the sync then reads and writes nothing more.
    unchanged: bool = False


@dataclass
class UpstreamState:
    """What a repository remembers between syncs of one source (ETags, the last listing, rate limits).

    Loaded from the source record before a sync and written back only when `changed` (so an unchanged
    upstream costs no database write). Repositories keep JSON-serialisable values in `values`.
    """

    values: dict[str, Any] = field(default_factory=dict)
    changed: bool = False

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def set(self, key: str, value: Any) -> None:
        if self.values.get(key) != value:
            self.values[key] = value
            self.changed = True


class Repository(Protocol):
    #: What Composer may clone from (the `source` of each version), or None when nothing public exists.
    source: Mapping[str, str] | None

    async def listing(self) -> Listing:
        """Every tag (peeled to its commit) and branch, and the default branch's name.

        A repository with conditional requests returns `unchanged=True` (and the previous listing) when the
        upstream confirms nothing moved.
        """
        ...

    async def read_files(self, commit_paths: list[tuple[str, str]]) -> list[bytes | None]:
        """The content of each `(commit, path)`, or None where that file does not exist."""
        ...

    async def times(self, commits: list[str]) -> dict[str, int]:
        """Unix time of each commit as Composer's driver for this kind reports it (the git driver: author
        date; GitHub, GitLab, Gitea: committer date). Commits it cannot date are left out."""
        ...

    async def archive(self, commit: str) -> Blob:
        """A zip of the tree at `commit` (the caller closes it). Providers download their archive endpoint,
        capped at MAX_UPLOAD_BYTES; the caller checks it like an upload before storing it."""
        ...
