"""Read access to a Git repository, as the plain-git source needs it. Only the server runtime has one
(it runs the `git` CLI); on Workers the git source reports that it needs the self-hosted server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO, Protocol


@dataclass(frozen=True, slots=True)
class GitRef:
    #: Short name: `v1.0.0` for a tag, `main` for a branch.
    name: str
    kind: str  # "tag" | "branch"
    #: The object the ref points at, annotated tags peeled to the end (a commit, or rarely a tree or blob).
    commit: str


class GitReader(Protocol):
    async def fetch(self, url: str, credentials: tuple[str, str] | None) -> None:
        """Bring the local mirror of `url` up to date (clone on first use, prune deleted refs).

        Raises:
            SourceError: the repository cannot be reached or read; the message never contains credentials.
        """
        ...

    async def refs(self, url: str) -> tuple[list[GitRef], str | None]:
        """Return every tag and branch of the mirror and the name of the default branch (if known).

        A name that is not UTF-8 keeps its other bytes as surrogates (`surrogateescape`).
        """
        ...

    async def read_files(self, url: str, commit_paths: list[tuple[str, str]]) -> list[bytes | None]:
        """Return the content of each `(commit, path)`, or None where that file does not exist."""
        ...

    async def author_times(self, url: str, objects: list[str]) -> dict[str, int]:
        """Return the author time (Unix seconds) of each object that is a commit; others are left out."""
        ...

    async def archive(self, url: str, commit: str, out: BinaryIO) -> None:
        """Write a zip of the tree at `commit` to `out` (deterministic for a given commit)."""
        ...
