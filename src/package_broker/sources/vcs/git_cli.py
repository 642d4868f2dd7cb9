"""The plain `git` source kind: a repository any git server holds, read from a local mirror with the git
command line (the server runtime only; Workers have no git).

The mirror is fetched once per sync; everything else reads it locally, so there is no per-ref upstream
cost and no conditional listing (`Listing.unchanged` is never set: reading refs locally is free).
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from urllib.parse import urlsplit

from ...ports import GitReader
from ...ports.blob import Blob, blob_of
from .repository import Listing


def public_source(url: str) -> dict[str, str] | None:
    """The `source` Composer may clone from, or None when the URL only makes sense on this machine."""
    parts = urlsplit(url)
    if parts.scheme in ("https", "http", "ssh", "git") and "@" not in parts.netloc.replace("git@", ""):
        return {"type": "git", "url": url}
    if not parts.scheme and url.startswith("git@"):
        return {"type": "git", "url": url}
    return None


class GitCliRepository:
    def __init__(self, git: GitReader, url: str, credentials: tuple[str, str] | None) -> None:
        self.git = git
        self.url = url
        self.credentials = credentials
        self.source: Mapping[str, str] | None = public_source(url)

    async def listing(self) -> Listing:
        await self.git.fetch(self.url, self.credentials)
        refs, default_branch = await self.git.refs(self.url)
        return Listing(refs, default_branch)

    async def read_files(self, commit_paths: list[tuple[str, str]]) -> list[bytes | None]:
        return await self.git.read_files(self.url, commit_paths) if commit_paths else []

    async def times(self, commits: list[str]) -> dict[str, int]:
        # Composer's GitDriver dates a ref by its author date (`git log -1 --format=%at`).
        return await self.git.author_times(self.url, commits) if commits else {}

    async def archive(self, commit: str) -> Blob:
        file = tempfile.TemporaryFile()
        try:
            await self.git.archive(self.url, commit, file)
            file.flush()
            return blob_of(file)
        except BaseException:
            file.close()
            raise
