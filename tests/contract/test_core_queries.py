"""The core's own SQL on every database adapter: each query the catalog, tokens, sources and sync job send
runs here once, so SQL that works on SQLite but not on PostgreSQL (or the other way round) fails a test."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from package_broker import migrations
from package_broker.artifacts.publish import publish_archive
from package_broker.broker import Broker, Ports
from package_broker.config import Settings
from package_broker.errors import Conflict
from package_broker.runtimes.server.bootstrap import load_migrations
from package_broker.runtimes.server.filesystem import FilesystemObjectStore
from package_broker.runtimes.server.memory_kv import MemoryKVStore
from package_broker.sources.job import sync_due
from package_broker.sources.store import RefState
from tests.helpers import make_zip


@pytest.fixture
async def core(db: Any, tmp_path: Path) -> Broker:
    await migrations.apply(db, load_migrations())
    ports = Ports(db=db, kv=MemoryKVStore(), objects=FilesystemObjectStore(str(tmp_path / "objects")))
    return Broker(Settings(memo_seconds=0), ports)


def archive(version: str, description: str = "A Fancy Tool for 100% of cases, Élan included") -> io.BytesIO:
    manifest = {"name": "acme/tool_kit", "description": description, "version": version}
    return io.BytesIO(make_zip({"composer.json": manifest, "src/A.php": f"<?php // {version}"}))


async def test_publishing_serving_and_searching(core: Broker) -> None:
    first = await publish_archive(core, archive("1.0.0"))
    again = await publish_archive(core, archive("1.0.0"))
    assert first.changed and not again.changed
    await publish_archive(core, archive("1.1.0"))
    with pytest.raises(Conflict):
        await publish_archive(
            core, io.BytesIO(make_zip({"composer.json": {"name": "acme/tool_kit"}, "x": "y"})), version="1.0.0"
        )

    document = await core.documents.p2("acme/tool_kit", dev=False, base_url="https://broker.test")
    assert document is not None
    versions = json.loads(document.body)["packages"]["acme/tool_kit"]
    assert [v["version"] for v in versions] == ["1.1.0", "1.0.0"]
    names = await core.documents.names()
    assert list(names.names) == ["acme/tool_kit"]

    dist = await core.catalog.dist("acme/tool_kit", first.reference)
    assert dist is not None and (dist.shasum, dist.size) == (first.shasum, first.size)
    state = await core.catalog.state("acme/tool_kit")
    assert state.package is not None and sorted(state.versions) == ["1.0.0.0", "1.1.0.0"]
    assert first.reference in state.dists and state.names_modified_at > 0
    assert state.dist_from("https://nowhere.test/x.zip") is None
    assert (await core.catalog.state("acme/nothing")).package is None

    # Case-insensitive like Composer's search, and LIKE's wildcards in the query are plain characters.
    found = [row["name"] for row in await core.catalog.search("FANCY")]
    assert found == ["acme/tool_kit"]
    assert [row["name"] for row in await core.catalog.search("Tool_Kit")] == ["acme/tool_kit"]
    assert [row["name"] for row in await core.catalog.search("100%")] == ["acme/tool_kit"]
    assert [row["name"] for row in await core.catalog.search("Élan")] == ["acme/tool_kit"]
    assert await core.catalog.search("tool%kit") == []
    assert await core.catalog.search("acme_tool") == []

    # Scoped search: prefixes are plain text (`_` is no wildcard), applied before the limit.
    assert [r["name"] for r in await core.catalog.search("tool", prefixes=["acme/tool_*"])] == ["acme/tool_kit"]
    assert await core.catalog.search("tool", prefixes=["acme/toolxk"]) == []
    assert await core.catalog.search("tool", prefixes=[]) == []

    # A report counts each served version once; versions not served count nothing. Past one statement's
    # worth of pairs, the batch holds several statements.
    junk = [(f"acme/junk-{i}", "1.0.0.0") for i in range(95)]
    await core.catalog.count_downloads([("acme/tool_kit", "1.0.0.0"), ("acme/tool_kit", "1.0.0.0"), *junk])
    await core.catalog.count_downloads([("acme/tool_kit", "1.0.0.0"), ("acme/tool_kit", "9.9.9.9")])
    rows = await core.ports.db.fetch_all("SELECT package, version_normalized, count FROM downloads")
    assert [(r["package"], r["version_normalized"], int(r["count"])) for r in rows] == [("acme/tool_kit", "1.0.0.0", 2)]


async def test_publishing_a_version_is_a_compare_and_set(core: Broker) -> None:
    """Two publishers read the same state; the second one's write must not replace the first one's."""
    from package_broker.catalog.store import DistRow, VersionRow

    uploads = await core.sources.uploads()
    seen = await core.catalog.state("acme/raced")

    def row(reference: str) -> tuple[VersionRow, DistRow]:
        version = VersionRow("1.0.0.0", "1.0.0", False, reference, json.dumps({"name": "acme/raced"}), 1)
        return version, DistRow("acme/raced", reference, f"dists/acme/raced/{reference}.zip", reference, 1)

    first, first_dist = row("a" * 40)
    second, second_dist = row("b" * 40)
    assert await core.catalog.publish(seen, uploads.id, first, dist=first_dist) == first
    assert await core.catalog.publish(seen, uploads.id, second, dist=second_dist) == first  # lost
    # A replacement replaces only the reference it read.
    current = await core.catalog.state("acme/raced")
    assert await core.catalog.publish(current, uploads.id, second, dist=second_dist) == second
    assert await core.catalog.publish(current, uploads.id, first, dist=first_dist) == second  # stale read
    # A name another source owns is never written by the uploads source.
    git = await core.sources.add("git", "https://git.example.test/acme/owned.git")
    unowned = await core.catalog.state("acme/owned")
    await core.catalog.write(unowned, git.id, [])
    taken, taken_dist = row("c" * 40)
    assert await core.catalog.publish(unowned, uploads.id, taken, dist=taken_dist) is None
    assert (await core.catalog.state("acme/owned")).versions == {}


async def test_tokens_are_created_found_touched_and_revoked(core: Broker) -> None:
    token, secret = await core.tokens.create("ci", permission="write", allowed_package_prefixes=["acme/"])
    found = await core.tokens.lookup(secret)
    assert found is not None and found.id == token.id and found.allowed_package_prefixes == ["acme/"]
    await core.tokens.touch(token)
    assert (await core.tokens.get(token.id)).last_used_at is not None
    revoked = await core.tokens.revoke(token.id)
    assert revoked.revoked_at is not None and (await core.tokens.revoke(token.id)).revoked_at == revoked.revoked_at
    assert [t.id for t in await core.tokens.all()] == [token.id]
    assert await core.tokens.lookup("pkb_unknown") is None


async def test_sources_leases_refs_and_the_scheduled_sync(core: Broker) -> None:
    source = await core.sources.add("git", "https://git.example.test/acme/lib.git")
    with pytest.raises(Conflict):
        await core.sources.add("git", "https://git.example.test/acme/lib.git")
    uploads = await core.sources.uploads()
    assert (await core.sources.uploads()).id == uploads.id

    lease = await core.sources.acquire(source.id)
    assert lease is not None
    assert await core.sources.acquire(source.id) is None  # the lease is held
    assert await core.sources.renew(lease)
    await core.ports.db.batch(
        core.sources.ref_statements(
            source.id, [RefState("v1.0.0", "ok", commit="a" * 40), RefState("v0.9", "skipped", "no composer.json")]
        )
    )
    await core.ports.db.batch(
        core.sources.ref_statements(source.id, [RefState("v0.9", "skipped", "still none")], complete=False)
    )
    await core.sources.finish(lease, "partial", "half done", cursor="acme/m")
    assert (await core.sources.get(source.id)).sync_cursor == "acme/m"
    refs = await core.sources.refs(source.id)
    assert refs["v0.9"]["reason"] == "still none" and refs["v1.0.0"]["commit_sha"] == "a" * 40

    # Due: an unfinished pass first, then never synced; this runtime has no git, so each sync records that
    # error on its source (which ends the pass).
    other = await core.sources.add("git", "https://git.example.test/acme/other.git")
    assert [s.id for s in await core.sources.due(interval=0)] == [source.id, other.id]
    reports = await sync_due(core, interval=0)
    assert [r.source_id for r in reports] == [source.id, other.id]
    assert (await core.sources.get(source.id)).sync_cursor is None
    assert {(await core.sources.get(i)).status for i in (source.id, other.id)} == {"error"}


async def test_due_sources_follow_their_own_interval_and_skip_disabled_ones(core: Broker) -> None:
    quick = await core.sources.add("composer", "https://quick.example.test")
    slow = await core.sources.add("composer", "https://slow.example.test")
    paused = await core.sources.add("composer", "https://paused.example.test")
    await core.sources.update(slow.id, sync_interval=3600)
    await core.sources.update(paused.id, enabled=False)
    synced = core.clock.now() - 120
    await core.ports.db.execute("UPDATE sources SET last_synced_at = ?", (synced,))
    assert [s.id for s in await core.sources.due(interval=60)] == [quick.id]
    assert [s.id for s in await core.sources.due(interval=600)] == []
    await core.sources.update(paused.id, enabled=True)
    assert {s.id for s in await core.sources.due(interval=60)} == {quick.id, paused.id}
