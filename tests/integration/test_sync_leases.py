"""Sync leases: two syncs of one source never overlap, a running sync keeps its lease alive, a sync that
died (kill -9) is taken over once its lease lapses, and "busy" never looks like success."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from package_broker.broker import Broker
from package_broker.sources import store as source_store
from package_broker.sources.composer_repo import ComposerRepositorySync
from package_broker.sources.job import sync_source
from package_broker.sources.store import LEASE_SECONDS
from tests.fixtures.composer_repo import ComposerRepository
from tests.helpers import BROKER_VARIABLES, run_cli


def sql(database: Path, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run one statement on the broker's SQLite file from outside, as another process would."""
    with contextlib.closing(sqlite3.connect(database, isolation_level=None)) as db:
        return db.execute(statement, params).fetchall()


@pytest.fixture
def upstream() -> Iterator[ComposerRepository]:
    repo = ComposerRepository().start()
    repo.release("up/lib", "1.0.0", {"composer.json": {"name": "up/lib"}, "a.txt": "one"})
    yield repo
    repo.stop()


async def test_a_running_sync_renews_its_lease_and_keeps_others_out(
    broker: Broker, upstream: ComposerRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("package_broker.sources.job.LEASE_SECONDS", 0.3)  # renewed every 0.1 s
    source = await broker.sources.add("composer", upstream.url)
    real_run = ComposerRepositorySync.run

    async def slow_run(self: ComposerRepositorySync) -> Any:
        await asyncio.sleep(0.45)
        return await real_run(self)

    monkeypatch.setattr(ComposerRepositorySync, "run", slow_run)
    renewed: list[bool] = []
    real_renew = broker.sources.renew

    async def counted_renew(lease: Any) -> bool:
        renewed.append(await real_renew(lease))
        return renewed[-1]

    monkeypatch.setattr(broker.sources, "renew", counted_renew)
    running = asyncio.create_task(sync_source(broker, source))
    await asyncio.sleep(0.05)
    first = await broker.ports.db.fetch_one(
        "SELECT sync_started_at, sync_lease FROM sources WHERE id = ?", (source.id,)
    )
    assert first is not None and first["sync_lease"]
    busy = await sync_source(broker, source)
    assert busy.status == "busy" and "taken over after" in (busy.message or "")
    report = await running
    assert report.status == "ok", report.message
    assert len(renewed) >= 3 and all(renewed), renewed
    row = await broker.ports.db.fetch_one("SELECT sync_started_at, sync_lease FROM sources WHERE id = ?", (source.id,))
    assert row == {"sync_started_at": None, "sync_lease": None}


async def test_a_lapsed_lease_is_taken_over_and_the_old_sync_cannot_overwrite(
    broker: Broker, upstream: ComposerRepository
) -> None:
    source = await broker.sources.add("composer", upstream.url)
    dead = await broker.sources.acquire(source.id)  # a sync whose process then died
    assert dead is not None
    assert (await sync_source(broker, source)).status == "busy"
    await broker.ports.db.execute(
        "UPDATE sources SET sync_started_at = sync_started_at - ? WHERE id = ?", (LEASE_SECONDS + 1, source.id)
    )
    report = await sync_source(broker, source)
    assert report.status == "ok", report.message
    # The dead sync coming back to life must not record its outcome over the new one.
    assert await broker.sources.finish(dead, "error", "zombie") is False
    assert (await broker.sources.get(source.id)).status == "ok"
    assert await broker.sources.renew(dead) is False


def test_kill_9_during_a_sync_leaves_busy_then_a_takeover_and_busy_exits_non_zero(
    tmp_path: Path, upstream: ComposerRepository
) -> None:
    data = tmp_path / "data"
    assert run_cli(data, "source", "add", "composer", upstream.url, "--no-sync").returncode == 0
    (archive,) = [path for path in upstream.dists]
    upstream.drip[archive] = 1.0  # the archive download crawls: the sync is still running when killed
    env = {k: v for k, v in os.environ.items() if not k.startswith(BROKER_VARIABLES)} | {"DATA_DIR": str(data)}
    syncing = subprocess.Popen(
        [sys.executable, "-m", "package_broker.runtimes.server.cli", "sync"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    database = data / "package-broker.sqlite"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        (lease,) = sql(database, "SELECT sync_lease FROM sources WHERE kind = 'composer'")[0]
        if lease:
            break
        time.sleep(0.1)
    assert lease, "the sync never took its lease"
    syncing.send_signal(signal.SIGKILL)
    syncing.communicate(timeout=10)

    busy = run_cli(data, "sync", timeout=30)
    assert busy.returncode == 1, busy.stdout + busy.stderr
    assert ": busy: another sync of this source is running" in busy.stdout

    # Let LEASE_SECONDS pass, as far as the lease can tell.
    sql(database, "UPDATE sources SET sync_started_at = sync_started_at - ?", (LEASE_SECONDS + 1,))
    upstream.drip.clear()
    taken_over = run_cli(data, "sync", timeout=60)
    assert taken_over.returncode == 0, taken_over.stdout + taken_over.stderr
    assert ": ok: " in taken_over.stdout
    listed = json.loads(run_cli(data, "source", "list", "--json").stdout)
    assert [(s["status"], s["sync_cursor"]) for s in listed if s["kind"] == "composer"] == [("ok", None)]


def test_the_lease_is_short() -> None:
    """Fifteen minutes of "busy" after a crash was the bug; a lease now lapses within a minute and a half."""
    assert source_store.LEASE_SECONDS <= 90
