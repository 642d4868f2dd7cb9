"""DATA_DIR under a hostile or careless world: files only the broker's user can read, temporary files a
crash left behind cleaned up, and a disk that fills up reported by /health while reads keep working."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import httpx
import pytest

from package_broker.broker import Broker
from package_broker.runtimes.server import filesystem
from tests.conftest import BrokerServer, Client, basic
from tests.helpers import make_zip, run_cli


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_database_cache_and_archives_are_private_to_the_brokers_user(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    archive = tmp_path / "lib.zip"
    archive.write_bytes(make_zip({"composer.json": {"name": "acme/private", "version": "1.0.0"}}))
    assert run_cli(data, "publish", str(archive)).returncode == 0
    assert mode(data) == 0o700
    files = [p for p in data.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"package-broker.sqlite", "cache.sqlite", "encryption.key"}
    assert any(p.suffix == ".zip" for p in files)
    exposed = {str(p.relative_to(data)): oct(mode(p)) for p in files if mode(p) & 0o077}
    assert exposed == {}, exposed
    folders = {str(p.relative_to(data)): oct(mode(p)) for p in data.rglob("*") if p.is_dir() and mode(p) & 0o077}
    assert folders == {}, folders


def test_temporary_files_left_by_a_crash_are_removed_at_start(tmp_path: Path) -> None:
    store = tmp_path / "data" / "artifacts" / "dists" / "acme" / "lib"
    store.mkdir(parents=True)
    old, fresh = store / "tmpabc.tmp", store / "tmpdef.tmp"
    for leftover in (old, fresh):
        leftover.write_bytes(b"half an archive")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    server = BrokerServer(tmp_path).start()
    try:
        assert not old.exists()
        assert fresh.exists()  # perhaps another process's write in progress
        assert "removed 1 temporary files" in server.log_text()
        assert httpx.get(f"{server.url}/health").status_code == 200
    finally:
        server.stop()


async def test_a_full_disk_makes_health_degraded_with_the_reason_and_reads_keep_working(
    broker: Broker, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, secret = await broker.tokens.create("reader")
    monkeypatch.setattr(filesystem, "LOW_SPACE_BYTES", 1 << 62)  # every disk is "nearly full" now
    response, body = await client.request("GET", "/health")
    assert response.status == 503
    report = json.loads(body)
    assert report["status"] == "degraded"
    assert report["checks"]["storage"] == "error" and report["checks"]["database"] == "error"
    assert report["problems"]["storage"].startswith("low disk space")
    assert str(broker.settings) not in body.decode()  # no paths or settings leak through /health
    assert "/" not in report["problems"]["storage"]
    root, _ = await client.request("GET", "/packages.json", headers=basic(secret))
    assert root.status == 200


async def test_a_failed_sync_makes_health_degraded_but_still_200(broker: Broker, client: Client) -> None:
    source = await broker.sources.add("composer", "http://127.0.0.1:9/nothing")
    lease = await broker.sources.acquire(source.id)
    assert lease is not None
    await broker.sources.finish(lease, "error", "127.0.0.1:9 refused the connection")
    response, body = await client.request("GET", "/health")
    report = json.loads(body)
    assert response.status == 200
    assert report["status"] == "degraded" and report["checks"]["database"] == "ok"
    assert report["problems"]["sync"].startswith("1 source(s) failed their last sync")
    assert "127.0.0.1:9" not in body.decode()  # which and why is for the operator's CLI, not the public
    await broker.sources.update(source.id, enabled=False)
    assert json.loads((await client.request("GET", "/health"))[1])["status"] == "ok"
