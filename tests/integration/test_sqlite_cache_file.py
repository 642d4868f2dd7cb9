"""The embedded key/value file under trouble: another process holding its lock never stalls this process's
event loop, and a corrupt file is a cache to rebuild, not an outage."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from pathlib import Path

import pytest

from package_broker.errors import BackendError
from package_broker.runtimes.server.sqlite_kv import SqliteKVStore


async def test_a_locked_file_never_blocks_the_event_loop(tmp_path: Path) -> None:
    path = str(tmp_path / "cache.sqlite")
    store = await SqliteKVStore.open(path)
    await store.put("k", b"v")
    locked, release = threading.Event(), threading.Event()

    def hold_the_write_lock() -> None:  # another process, as `package-broker sync` would be
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        locked.set()
        release.wait(10)
        other.execute("ROLLBACK")
        other.close()

    holder = threading.Thread(target=hold_the_write_lock)
    holder.start()
    await asyncio.to_thread(locked.wait, 5)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    counting = asyncio.create_task(ticker())
    blocked = asyncio.create_task(store.put("k", b"new"))  # waits for the lock (busy_timeout)
    await asyncio.sleep(0.5)
    assert ticks >= 25, f"the event loop ran only {ticks} times in 0.5 s while the file was locked"
    assert not blocked.done()
    release.set()
    await blocked
    counting.cancel()
    holder.join()
    assert await store.get("k") == b"new"
    await store.aclose()


async def test_a_corrupt_file_is_moved_aside_and_rebuilt(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "cache.sqlite"
    store = await SqliteKVStore.open(str(path))
    for i in range(200):
        await store.put(f"key{i}", b"x" * 500)
    await store.aclose()
    data = bytearray(path.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # the header's tail and the schema page
    path.write_bytes(bytes(data))
    for suffix in ("-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)

    with caplog.at_level(logging.WARNING, logger="package_broker.cache"):
        store = await SqliteKVStore.open(str(path))
        assert await store.get("key1") is None  # a miss: the request builds the value again
        await store.put("key1", b"fresh")
        assert await store.get("key1") == b"fresh"
    assert "is corrupt" in caplog.text and "started afresh" in caplog.text
    assert list(tmp_path.glob("cache.sqlite.corrupt-*"))
    assert path.stat().st_mode & 0o777 == 0o600
    await store.aclose()


async def test_a_file_that_cannot_be_opened_says_where(tmp_path: Path) -> None:
    (tmp_path / "cache.sqlite").mkdir()  # a directory where the file should be
    with pytest.raises(BackendError, match=r"cannot open the key/value file .*cache\.sqlite"):
        await SqliteKVStore.open(str(tmp_path / "cache.sqlite"))
