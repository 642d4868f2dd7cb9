"""Syncing a version-controlled repository: every tag and branch, each with its own composer.json, each with
a dist zip of that commit stored in our object storage. The repository is a `Repository` (a local git
mirror, or a provider's API), so the same decisions hold for every kind.

Decisions follow Composer's own VCS repository (`VcsRepository` and its drivers; see composer/refs.py and
composer/manifest.py): tags are peeled to the end, `time` is what the kind's driver reports, the package is
named by the default branch's composer.json (other refs are served under that name whatever they say), and
the default branch is marked `default-branch`. Each ref is read on its own: whatever goes wrong inside one
ref, it is skipped with its reason and the others are served.

Work is incremental: a ref whose commit did not move (and whose default-branch mark is still right) is not
read again, unless the reading rules changed since (`READING_RULES`); a repository whose upstream confirms
that nothing moved (`Listing.unchanged`) costs nothing more. A ref that breaks keeps serving the version it
served before: nothing already served disappears because of a bad push.

Built for a Worker's per-invocation limits too: refs are read in chunks sized to what the budget still
affords; when it runs out, what was read is written, the refs not reached keep what they served, and the
run ends "partial" so that the next one continues (the refs already read are then unchanged).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from ... import budget
from ...artifacts.subtree import subtree
from ...catalog.store import DistRow, VersionRow, dist_path, first_description, state_statement
from ...composer import php
from ...composer.manifest import encode_version, parse_manifest, version_object
from ...composer.names import naming_error
from ...composer.refs import RefVersion, branch_version, tag_version
from ...composer.versions import is_dev
from ...errors import BackendError, BrokerError, SourceError
from ...ports import GitRef
from ...ports.blob import Blob
from ..context import SyncContext
from ..dists import store_archive
from ..report import SyncReport
from ..store import RefState, Source
from .repository import Repository, UpstreamState

log = logging.getLogger("package_broker.sync")

#: Bumped whenever the way a ref is read changes, so that refs read under older rules are read again.
READING_RULES = 2
#: Refs read per step at most (a git mirror answers a chunk with one process; a provider, a few requests).
CHUNK = 50
#: Upstream requests one ref may cost (its composer.json, its date, its archive).
FETCHES_PER_REF = 3
#: Storage calls one new ref may cost (is its archive known, store it, record it) at most.
SERVICES_PER_REF = 4
#: The cursor of a pass that ran out of budget: refs read so far are recorded, the rest wait.
PARTIAL = "refs"


@dataclass
class RefOutcome:
    ref: GitRef
    row: VersionRow | None = None
    reason: str | None = None
    #: False: the run ended before this ref was read (its previous state stays recorded).
    read: bool = True


def shown(name: str) -> str:
    """A ref name as text: bytes that are not UTF-8 (kept as surrogates by the reader) shown as \\xNN."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def ref_key(ref: GitRef) -> str:
    return f"refs/{'tags' if ref.kind == 'tag' else 'heads'}/{shown(ref.name)}"


def _order(refs: list[GitRef], default_branch: str | None) -> list[GitRef]:
    """Default branch first (it names the package), then tags, then other branches, each by name."""
    return sorted(refs, key=lambda r: (r.name != default_branch or r.kind != "branch", r.kind != "tag", r.name))


def _is_default(ref: GitRef, default_branch: str | None) -> bool:
    return ref.kind == "branch" and ref.name == default_branch


def _chunk_size() -> int:
    """How many refs the budget still affords reading in one step (at least one: it may have just enough)."""
    left = budget.current().fetches_left()
    return CHUNK if left is None else max(1, min(CHUNK, left // FETCHES_PER_REF))  # never more than affordable


class VcsSync:
    def __init__(self, ctx: SyncContext, source: Source, repository: Repository, state: UpstreamState) -> None:
        self.ctx = ctx
        self.source = source
        self.repository = repository
        self.state = state
        #: Where the package's composer.json is (a monorepo's package), or None: at the top.
        self.subdirectory: str | None = source.option("subdirectory")
        self.manifest_path = f"{self.subdirectory}/composer.json" if self.subdirectory else "composer.json"
        #: Archives stored by this run, by commit, recorded with the run's write.
        self.new_dists: dict[str, DistRow] = {}

    async def run(self) -> SyncReport:
        ctx, source = self.ctx, self.source
        listing = await self.repository.listing()
        rules_key = f"git-rules:{source.id}"
        same_rules = await ctx.catalog.state_int(rules_key) == READING_RULES
        if listing.unchanged and same_rules and source.sync_cursor is None:
            owned = await ctx.catalog.package_of_source(source.id)
            return SyncReport(source.id, "ok", "unchanged upstream", package=owned)
        if not listing.refs:
            raise SourceError("the repository has no branches or tags; nothing was changed")
        default_branch = listing.default_branch
        refs = _order(listing.refs, default_branch)
        previous = await ctx.sources.refs(source.id)
        owned = await ctx.catalog.package_of_source(source.id)
        current: dict[str, VersionRow] = {}
        if owned:
            current = {row.version_normalized: row for row in await ctx.catalog.versions(owned)}

        def unchanged(ref: GitRef) -> VersionRow | None:
            seen = previous.get(ref_key(ref))
            if not same_rules or not seen or seen["commit_sha"] != ref.commit or seen["status"] != "ok":
                return None
            row = current.get(seen["version_normalized"])
            if row is not None and ref.kind == "branch":
                # The upstream default branch can change without a push: the mark must follow it.
                if (json.loads(row.data).get("default-branch") is True) != _is_default(ref, default_branch):
                    return None
            return row

        # Composer names the package after the default branch's composer.json and serves every ref under it.
        root = next((ref for ref in refs if _is_default(ref, default_branch)), None)
        manifests: dict[str, bytes | None] = {}
        if root is not None:
            (manifests[ref_key(root)],) = await self.repository.read_files([(root.commit, self.manifest_path)])
        root_name = _root_name(manifests[ref_key(root)]) if root is not None else None
        name = owned or root_name

        outcomes: list[RefOutcome] = []
        taken: dict[str, str] = {}
        pending = [ref for ref in refs if unchanged(ref) is None]  # in the order of `refs`
        unreached = {ref_key(ref) for ref in pending}
        times: dict[str, int] = {}
        partial = False
        for ref in refs:
            if pending and ref is pending[0] and not partial:
                # Read the next chunk of refs: their composer.json files and their dates.
                chunk = pending[: _chunk_size()]
                unread = [r for r in chunk if ref_key(r) not in manifests]
                # Each ref may cost its file, its date and its archive upstream, and a few storage calls.
                if not budget.current().affords(
                    fetches=FETCHES_PER_REF * len(chunk), services=SERVICES_PER_REF * len(chunk)
                ):
                    partial = True
                else:
                    contents = await self.repository.read_files([(r.commit, self.manifest_path) for r in unread])
                    manifests.update(zip([ref_key(r) for r in unread], contents, strict=True))
                    times.update(await self.repository.times(sorted({r.commit for r in chunk})))
                    del pending[: len(chunk)]
                    unreached.difference_update(ref_key(r) for r in chunk)
            outcome = RefOutcome(ref)
            if partial and ref_key(ref) in unreached:
                outcome.read = False
                self._keep_previous(outcome, previous, current, taken)
                outcomes.append(outcome)
                continue
            try:
                outcome.row = unchanged(ref)
                if outcome.row is None:
                    manifest = _manifest(manifests[ref_key(ref)], ref)
                    if name is None:
                        name = _own_name(manifest)
                    elif name != root_name and (other := manifest.get("name")) != name:
                        raise SourceError(_mismatch(other, name))
                    outcome.row = await self._version(ref, manifest, name, times.get(ref.commit), default_branch)
                if outcome.row.version_normalized in taken:
                    raise SourceError(f"it resolves to the same version as {taken[outcome.row.version_normalized]}")
                taken[outcome.row.version_normalized] = shown(ref.name)
            except (BackendError, budget.BudgetExhausted):
                raise  # storage failed or the budget ran out, not this ref: the sync stops and records it
            except Exception as exc:  # one ref must never end the sync of the others
                outcome.row, outcome.reason = None, _reason(exc, ref)
                self._keep_previous(outcome, previous, current, taken)
            outcomes.append(outcome)

        report = SyncReport(source.id, "partial" if partial else "ok", package=name)
        report.skipped = [(shown(o.ref.name), o.reason) for o in outcomes if o.reason]
        rows = [o.row for o in outcomes if o.row is not None]
        if name is None or not rows:
            if partial:
                report.message, report.cursor = "this run's budget ran out before any ref was read", PARTIAL
                return report
            raise SourceError("no branch or tag has a usable composer.json: " + _summary(report.skipped))
        state = await ctx.catalog.state(name)
        states = self._ref_states([o for o in outcomes if o.read], name)
        extra = ctx.sources.ref_statements(source.id, states, complete=not partial)
        if not partial:
            extra.append(state_statement(rules_key, READING_RULES, ctx.clock.now()))
        if self.state.changed:
            extra.append(ctx.sources.upstream_state_statement(source.id, self.state.values))
        report.changed = await ctx.catalog.write(
            state,
            source.id,
            rows,
            description=first_description(rows),
            dists=list(self.new_dists.values()),
            extra=extra,
        )
        report.versions = len(rows)
        report.message = f"{len(rows)} versions of {name}" + (
            f"; skipped {_summary(report.skipped)}" if report.skipped else ""
        )
        if partial:
            waiting = sum(not o.read for o in outcomes)
            report.message += f"; {waiting} refs wait for the next run (this run's budget ran out)"
            report.cursor = PARTIAL
        return report

    @staticmethod
    def _keep_previous(
        outcome: RefOutcome, previous: dict[str, Any], current: dict[str, VersionRow], taken: dict[str, str]
    ) -> None:
        """Keep serving what a ref served before it broke (or before this run could read it)."""
        seen = previous.get(ref_key(outcome.ref))
        if seen and seen["version_normalized"] in current and seen["version_normalized"] not in taken:
            outcome.row = current[seen["version_normalized"]]
            taken[outcome.row.version_normalized] = shown(outcome.ref.name)

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
            # A clone would hold the whole repository, not the package: a monorepo's package is served as
            # dists only.
            source=dict(self.repository.source) if self.repository.source and not self.subdirectory else None,
            default_branch=_is_default(ref, default_branch),
        )
        encode_version(data)  # refuses what JSON cannot carry before an archive is made for it
        dist = self.new_dists.get(ref.commit) or await self.ctx.catalog.dist(name, ref.commit)
        if dist is None:
            # Stored now, recorded in the sync's one write at the end (after the store, as it must be).
            with await self.repository.archive(ref.commit) as whole:
                if self.subdirectory is None:
                    dist = await store_archive(self.ctx, name, ref.commit, whole, record=False)
                else:
                    cut: Blob = await self.ctx.offload(lambda: subtree(whole, str(self.subdirectory)))
                    with cut:
                        dist = await store_archive(self.ctx, name, ref.commit, cut, record=False)
            self.new_dists[ref.commit] = dist
        data["dist"]["shasum"] = dist.shasum
        return VersionRow(
            version.normalized, version.version, is_dev(version.normalized), ref.commit, encode_version(data), time
        )

    def _ref_states(self, outcomes: list[RefOutcome], name: str) -> list[RefState]:
        return [
            RefState(
                ref_key(o.ref),
                "skipped" if o.reason else "ok",
                o.reason,
                commit=o.ref.commit,
                package=name if o.row else None,
                version_normalized=o.row.version_normalized if o.row else None,
            )
            for o in outcomes
        ]


def _manifest(raw: bytes | None, ref: GitRef) -> dict[str, Any]:
    if ref.name != shown(ref.name):
        raise SourceError("its name is not UTF-8 text, which Composer metadata cannot carry")
    if raw is None:
        raise SourceError("no composer.json at this ref (in the source's sub-directory, if it has one)")
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
    log.warning("reading ref %s failed unexpectedly", shown(ref.name), exc_info=exc)
    return f"unexpected {type(exc).__name__} while reading this ref: {str(exc)[:200]}"


def _summary(skipped: list[tuple[str, str]]) -> str:
    shown_ = "; ".join(f"{ref}: {reason}" for ref, reason in skipped[:5])
    return shown_ + (f"; and {len(skipped) - 5} more" if len(skipped) > 5 else "")
