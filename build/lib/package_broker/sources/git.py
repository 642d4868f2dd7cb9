"""Syncing a plain Git repository: every tag and branch, each with its own composer.json, each with a
dist zip made by `git archive` at that commit.

Decisions follow Composer's own VCS repository (`VcsRepository`, `GitDriver`; see composer/refs.py and
composer/manifest.py): tags are peeled to the end, `time` is the author date, the package is named by
the default branch's composer.json (other refs are served under that name whatever they say), and the
default branch is marked `default-branch`. Each ref is read on its own: whatever goes wrong inside one
ref, it is skipped with its reason and the others are served.

Work is incremental: a ref whose commit did not move (and whose default-branch mark is still right) is not
read again, unless the reading rules changed since (`READING_RULES`). A ref that breaks keeps serving the
version it served before: nothing already served disappears because of a bad push.
"""

from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..broker import Broker
from ..catalog.store import DistRow, VersionRow, dist_key, dist_path, first_description, state_statement
from ..composer import php
from ..composer.manifest import encode_version, parse_manifest, version_object
from ..composer.names import naming_error
from ..composer.refs import RefVersion, branch_version, tag_version
from ..composer.versions import is_dev
from ..errors import BackendError, BrokerError, SourceError
from ..ports import GitReader, GitRef
from ..ports.blob import blob_of
from .report import SyncReport
from .store import RefState, Source

log = logging.getLogger("package_broker.sync")

#: Bumped whenever the way a ref is read changes, so that refs read under older rules are read again.
READING_RULES = 2


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


def _shown(name: str) -> str:
    """A ref name as text: bytes that are not UTF-8 (kept as surrogates by the reader) shown as \\xNN."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _ref_key(ref: GitRef) -> str:
    return f"refs/{'tags' if ref.kind == 'tag' else 'heads'}/{_shown(ref.name)}"


def _order(refs: list[GitRef], default_branch: str | None) -> list[GitRef]:
    """Default branch first (it names the package), then tags, then other branches, each by name."""
    return sorted(refs, key=lambda r: (r.name != default_branch or r.kind != "branch", r.kind != "tag", r.name))


def _is_default(ref: GitRef, default_branch: str | None) -> bool:
    return ref.kind == "branch" and ref.name == default_branch


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
        rules_key = f"git-rules:{self.source.id}"
        same_rules = await self.broker.catalog.state_int(rules_key) == READING_RULES

        def unchanged(ref: GitRef) -> VersionRow | None:
            seen = previous.get(_ref_key(ref))
            if not same_rules or not seen or seen["commit_sha"] != ref.commit or seen["status"] != "ok":
                return None
            row = current.get(seen["version_normalized"])
            if row is not None and ref.kind == "branch":
                # The upstream default branch can change without a push: the mark must follow it.
                if (json.loads(row.data).get("default-branch") is True) != _is_default(ref, default_branch):
                    return None
            return row

        todo = [ref for ref in refs if unchanged(ref) is None]
        root = next((ref for ref in refs if _is_default(ref, default_branch)), None)
        wanted = todo + ([root] if root is not None and root not in todo else [])
        contents = await self.git.read_files(url, [(ref.commit, "composer.json") for ref in wanted])
        manifests = dict(zip([_ref_key(r) for r in wanted], contents, strict=True))
        times = await self.git.author_times(url, sorted({ref.commit for ref in todo}))

        # Composer names the package after the default branch's composer.json and serves every ref under it.
        root_name = _root_name(manifests.get(_ref_key(root))) if root is not None else None
        name = owned or root_name
        outcomes: list[RefOutcome] = []
        taken: dict[str, str] = {}
        for ref in refs:
            outcome = RefOutcome(ref)
            try:
                outcome.row = unchanged(ref)
                if outcome.row is None:
                    manifest = _manifest(manifests[_ref_key(ref)], ref)
                    if name is None:
                        name = _own_name(manifest)
                    elif name != root_name and (other := manifest.get("name")) != name:
                        raise SourceError(_mismatch(other, name))
                    outcome.row = await self._version(ref, manifest, name, times.get(ref.commit), default_branch)
                if outcome.row.version_normalized in taken:
                    raise SourceError(f"it resolves to the same version as {taken[outcome.row.version_normalized]}")
                taken[outcome.row.version_normalized] = _shown(ref.name)
            except BackendError:
                raise  # the database or object store failed, not this ref: the sync stops and records it
            except Exception as exc:  # one ref must never end the sync of the others
                outcome.row, outcome.reason = None, _reason(exc, ref)
                # Keep serving what this ref served before it broke.
                seen = previous.get(_ref_key(ref))
                if seen and seen["version_normalized"] in current and seen["version_normalized"] not in taken:
                    outcome.row = current[seen["version_normalized"]]
                    taken[outcome.row.version_normalized] = _shown(ref.name)
            outcomes.append(outcome)

        report = SyncReport(self.source.id, "ok", package=name)
        report.skipped = [(_shown(o.ref.name), o.reason) for o in outcomes if o.reason]
        rows = [o.row for o in outcomes if o.row is not None]
        if name is None or not rows:
            raise SourceError("no branch or tag has a usable composer.json: " + _summary(report.skipped))
        state = await self.broker.catalog.state(name)
        extra = self.broker.sources.ref_statements(self.source.id, self._ref_states(outcomes, name))
        extra.append(state_statement(rules_key, READING_RULES, self.broker.clock.now()))
        report.changed = await self.broker.catalog.write(
            state, self.source.id, rows, description=first_description(rows), extra=extra
        )
        report.versions = len(rows)
        report.message = f"{len(rows)} versions of {name}" + (
            f"; skipped {_summary(report.skipped)}" if report.skipped else ""
        )
        return report

    async def _version(
        self, ref: GitRef, manifest: dict[str, Any], name: str, time: int | None, default_branch: str | None
    ) -> VersionRow:
        if time is None and php.empty(manifest.get("time")):
            # Composer's git driver asks `git log` for the date, which fails: it skips the ref.
            raise SourceError("it does not point at a commit")
        version: RefVersion
        if ref.kind == "tag":
            version = tag_version(ref.name, manifest.get("version"))
        else:
            version = branch_version(ref.name)
        data = version_object(
            manifest,
            name=name,
            version=version.version,
            version_normalized=version.normalized,
            reference=ref.commit,
            dist_path=dist_path(name, ref.commit),
            shasum="",
            time=time,
            source=public_source(self.source.url),
            default_branch=_is_default(ref, default_branch),
        )
        encode_version(data)  # refuses what JSON cannot carry before an archive is made for it
        data["dist"]["shasum"] = (await self._dist(name, ref.commit)).shasum
        return VersionRow(
            version.normalized, version.version, is_dev(version.normalized), ref.commit, encode_version(data), time
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


def _manifest(raw: bytes | None, ref: GitRef) -> dict[str, Any]:
    if ref.name != _shown(ref.name):
        raise SourceError("its name is not UTF-8 text, which Composer metadata cannot carry")
    if raw is None:
        raise SourceError("no composer.json at this ref")
    return parse_manifest(raw)


def _own_name(manifest: dict[str, Any]) -> str:
    """The name a ref's composer.json gives, when nothing else names the package yet."""
    name = manifest.get("name")
    if not isinstance(name, str) or not name:
        raise SourceError('composer.json needs a "name" such as "acme/library"')
    if error := naming_error(name):
        raise SourceError(f"composer.json: {error}")
    return name


def _mismatch(other: object, name: str) -> str:
    if other is None:
        return f'composer.json has no "name", and the default branch does not name the package ({name})'
    return f"composer.json names {other}, but this repository serves {name}"


def _root_name(raw: bytes | None) -> str | None:
    """The valid package name in the default branch's composer.json, if it has one."""
    try:
        return _own_name(parse_manifest(raw)) if raw is not None else None
    except BrokerError:
        return None


def _reason(exc: Exception, ref: GitRef) -> str:
    if isinstance(exc, BrokerError):
        return str(exc)
    log.warning("reading ref %s failed unexpectedly", _shown(ref.name), exc_info=exc)
    return f"unexpected {type(exc).__name__} while reading this ref: {str(exc)[:200]}"


def _summary(skipped: list[tuple[str, str]]) -> str:
    shown = "; ".join(f"{ref}: {reason}" for ref, reason in skipped[:5])
    return shown + (f"; and {len(skipped) - 5} more" if len(skipped) > 5 else "")
