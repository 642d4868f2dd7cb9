"""Syncing a plain Git repository: every tag and branch, each with its own composer.json, each with a
dist zip made by `git archive` at that commit.

Decisions follow Composer's own VCS repository (see composer/versions.py): tag and branch names become
versions the same way, a tag whose composer.json `version` disagrees is skipped, the default branch is
marked `default-branch`. Work is incremental: a ref whose commit did not move is not read again. A ref
that breaks (invalid composer.json, wrong name) is skipped with its reason recorded, and if it served a
version before, that version keeps being served: nothing already served disappears because of a bad push.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..broker import Broker
from ..catalog.store import DistRow, VersionRow, dist_key, dist_path, first_description
from ..composer.manifest import encode_version, parse_manifest, version_object
from ..composer.names import validate_name
from ..composer.refs import RefVersion, branch_version, tag_version
from ..composer.versions import is_dev
from ..errors import BrokerError, InvalidManifest, InvalidName, SourceError
from ..ports import GitReader, GitRef
from ..ports.blob import blob_of
from .report import SyncReport
from .store import RefState, Source


@dataclass
class RefOutcome:
    ref: GitRef
    row: VersionRow | None = None
    reason: str | None = None


def public_source(url: str) -> dict[str, str] | None:
    """The `source` Composer may clone from, or None when the URL only makes sense on this machine."""
    parts = urlsplit(url)
    if parts.scheme in ("https", "http", "ssh", "git") and "@" not in parts.netloc.replace("git@", ""):
        return {"type": "git", "url": url}
    if not parts.scheme and url.startswith("git@"):
        return {"type": "git", "url": url}
    return None


def _ref_key(ref: GitRef) -> str:
    return f"refs/{'tags' if ref.kind == 'tag' else 'heads'}/{ref.name}"


def _order(refs: list[GitRef], default_branch: str | None) -> list[GitRef]:
    """Default branch first (it names the package), then tags, then other branches, each by name."""
    return sorted(refs, key=lambda r: (r.name != default_branch or r.kind != "branch", r.kind != "tag", r.name))


class GitSync:
    def __init__(self, broker: Broker, source: Source, git: GitReader) -> None:
        self.broker = broker
        self.source = source
        self.git = git

    async def _credentials(self) -> tuple[str, str] | None:
        if not self.source.credentials:
            return None
        values = await self.broker.open_credentials(self.source.credentials)
        return values["username"], values["password"]

    async def run(self) -> SyncReport:
        url = self.source.url
        await self.git.fetch(url, await self._credentials())
        refs, default_branch = await self.git.refs(url)
        if not refs:
            raise SourceError("the repository has no branches or tags; nothing was changed")
        refs = _order(refs, default_branch)
        previous = await self.broker.sources.refs(self.source.id)
        owned = await self.broker.catalog.package_of_source(self.source.id)
        current: dict[str, VersionRow] = {}
        if owned:
            current = {row.version_normalized: row for row in await self.broker.catalog.versions(owned)}

        def unchanged(ref: GitRef) -> VersionRow | None:
            seen = previous.get(_ref_key(ref))
            if seen and seen["commit_sha"] == ref.commit and seen["status"] == "ok":
                return current.get(seen["version_normalized"])
            return None

        todo = [ref for ref in refs if unchanged(ref) is None]
        contents = await self.git.read_files(url, [(ref.commit, "composer.json") for ref in todo])
        manifests = dict(zip([_ref_key(r) for r in todo], contents, strict=True))
        times = await self.git.commit_times(url, sorted({ref.commit for ref in todo}))

        name = owned
        outcomes: list[RefOutcome] = []
        taken: dict[str, str] = {}
        for ref in refs:
            outcome = RefOutcome(ref)
            kept = unchanged(ref)
            try:
                if kept is not None:
                    outcome.row = kept
                else:
                    manifest = self._manifest(manifests[_ref_key(ref)])
                    name = name or manifest["name"]
                    outcome.row = await self._version(ref, manifest, name, times.get(ref.commit), default_branch)
                assert outcome.row is not None
                if outcome.row.version_normalized in taken:
                    raise SourceError(f"it resolves to the same version as {taken[outcome.row.version_normalized]}")
                taken[outcome.row.version_normalized] = ref.name
            except BrokerError as exc:
                outcome.row, outcome.reason = None, str(exc)
                # Keep serving what this ref served before it broke.
                seen = previous.get(_ref_key(ref))
                if seen and seen["version_normalized"] in current and seen["version_normalized"] not in taken:
                    outcome.row = current[seen["version_normalized"]]
                    taken[outcome.row.version_normalized] = ref.name
            outcomes.append(outcome)

        report = SyncReport(self.source.id, "ok", package=name)
        report.skipped = [(o.ref.name, o.reason) for o in outcomes if o.reason]
        rows = [o.row for o in outcomes if o.row is not None]
        if name is None or not rows:
            raise SourceError("no branch or tag has a usable composer.json: " + _summary(report.skipped))
        state = await self.broker.catalog.state(name)
        report.changed = await self.broker.catalog.write(
            state,
            self.source.id,
            rows,
            description=first_description(rows),
            extra=self.broker.sources.ref_statements(self.source.id, self._ref_states(outcomes, name)),
        )
        report.versions = len(rows)
        report.message = f"{len(rows)} versions of {name}" + (
            f"; skipped {_summary(report.skipped)}" if report.skipped else ""
        )
        return report

    def _manifest(self, raw: bytes | None) -> dict[str, Any]:
        if raw is None:
            raise SourceError("no composer.json at this ref")
        manifest = parse_manifest(raw)
        try:
            validate_name(manifest.get("name"))
        except InvalidName as exc:
            raise InvalidManifest(f"composer.json: {exc}") from None
        return manifest

    async def _version(
        self, ref: GitRef, manifest: dict[str, Any], name: str, time: int | None, default_branch: str | None
    ) -> VersionRow:
        if manifest["name"] != name:
            raise SourceError(f"composer.json names {manifest['name']}, but this repository serves {name}")
        version: RefVersion
        if ref.kind == "tag":
            version = tag_version(ref.name, manifest.get("version"))
        else:
            version = branch_version(ref.name)
        dist = await self._dist(name, ref.commit)
        data = version_object(
            manifest,
            name=name,
            version=version.version,
            version_normalized=version.normalized,
            reference=ref.commit,
            dist_path=dist_path(name, ref.commit),
            shasum=dist.shasum,
            time=time,
            source=public_source(self.source.url),
            default_branch=ref.kind == "branch" and ref.name == default_branch,
        )
        return VersionRow(
            version.normalized,
            version.version,
            is_dev(version.normalized),
            ref.commit,
            encode_version(data),
            time,
        )

    async def _dist(self, name: str, commit: str) -> DistRow:
        """Return the dist of `commit`, archiving and storing it the first time."""
        existing = await self.broker.catalog.dist(name, commit)
        if existing is not None:
            return existing
        key = dist_key(name, commit)
        with tempfile.TemporaryFile() as file:
            await self.git.archive(self.source.url, commit, file)
            file.flush()
            blob = blob_of(file)
            await self.broker.ports.objects.put(key, file, size=blob.size, metadata={"sha1": blob.sha1})
        dist = DistRow(name, commit, key, blob.sha1, blob.size)
        await self.broker.catalog.add_dist(dist)
        return dist

    def _ref_states(self, outcomes: list[RefOutcome], name: str) -> list[RefState]:
        return [
            RefState(
                _ref_key(o.ref),
                "skipped" if o.reason else "ok",
                o.reason,
                commit=o.ref.commit,
                package=name if o.row else None,
                version_normalized=o.row.version_normalized if o.row else None,
            )
            for o in outcomes
        ]


def _summary(skipped: list[tuple[str, str]]) -> str:
    shown = "; ".join(f"{ref}: {reason}" for ref, reason in skipped[:5])
    return shown + (f"; and {len(skipped) - 5} more" if len(skipped) > 5 else "")
