"""The two-level cache: values tagged with the database's generation, invalidation across processes that
share one database and one key/value store, and a cache that never makes a request fail."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any

import pytest

from package_broker import cache as cache_module
from package_broker.cache import TOKEN_MEMO_SECONDS, Cache, bump_statement
from package_broker.errors import BackendError
from package_broker.runtimes.server.memory_kv import MemoryKVStore
from package_broker.runtimes.server.sqlite import SqliteDatabase


def decode(data: bytes, _meta: dict[str, str]) -> str:
    return data.decode()


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[SqliteDatabase]:
    database = await SqliteDatabase.open(str(tmp_path / "db.sqlite"))
    await database.execute("CREATE TABLE broker_state (name TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at BIGINT)")
    yield database
    await database.close()


async def bump(db: SqliteDatabase) -> None:
    await db.batch([bump_statement(0)])


async def test_values_come_back_from_memory_then_from_the_store(db: SqliteDatabase) -> None:
    await bump(db)
    kv = MemoryKVStore()
    first, second = Cache(db, kv, seconds=0), Cache(db, kv, seconds=0)
    await first.refresh()
    await second.refresh()
    await first.put("k", b"v", "v", ttl=60)
    assert first.remembered("k") == "v"
    assert second.remembered("k") is None
    assert await second.get("k", decode) == "v"


async def test_a_new_generation_makes_other_processes_drop_their_copies(db: SqliteDatabase) -> None:
    await bump(db)
    kv = MemoryKVStore()
    writer, reader = Cache(db, kv, seconds=0), Cache(db, kv, seconds=0)
    await writer.refresh()
    await reader.refresh()
    await writer.put("k", b"old", "old", ttl=60)
    assert await reader.get("k", decode) == "old"
    await bump(db)
    await reader.refresh()
    assert reader.remembered("k") is None
    assert await reader.get("k", decode) is None


async def test_a_value_computed_before_a_change_is_never_served_after_it(db: SqliteDatabase) -> None:
    await bump(db)
    kv = MemoryKVStore()
    slow, other = Cache(db, kv, seconds=0), Cache(db, kv, seconds=0)
    await slow.refresh()
    await bump(db)  # happens while `slow` still works under the old generation
    await slow.put("k", b"stale", "stale", ttl=60)
    await other.refresh()
    assert await other.get("k", decode) is None


async def test_the_generation_is_read_at_most_once_per_memo_period(db: SqliteDatabase) -> None:
    await bump(db)
    cache = Cache(db, MemoryKVStore(), seconds=3600)
    await cache.refresh()
    cache.remember("k", "v")
    await bump(db)
    await cache.refresh()
    assert cache.remembered("k") == "v"  # within MEMO_SECONDS: no second read
    cache.forget()
    await cache.refresh()
    assert cache.remembered("k") is None


async def test_without_a_generation_the_shared_store_is_not_trusted(db: SqliteDatabase) -> None:
    kv = MemoryKVStore()
    await kv.put("k", b"left over", metadata={"g": ""})
    cache = Cache(db, kv, seconds=0)
    await cache.refresh()
    assert await cache.get("k", decode) is None
    await cache.put("k", b"new", "new", ttl=60)
    assert await kv.get("k") == b"left over"  # nothing is written under no generation


async def test_memory_is_bounded(db: SqliteDatabase) -> None:
    cache = Cache(db, MemoryKVStore(), seconds=0, max_entries=3)
    for i in range(5):
        cache.remember(str(i), i + 1)
    assert [cache.remembered(str(i)) for i in range(5)] == [None, None, 3, 4, 5]


async def test_token_look_ups_are_forgotten_after_their_age_limit(
    db: SqliteDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    monkeypatch.setattr(cache_module.time, "monotonic", lambda: now[0])
    cache = Cache(db, MemoryKVStore(), seconds=0)
    cache.tokens.put("Basic abc", False)
    now[0] += TOKEN_MEMO_SECONDS - 1
    assert cache.tokens.get("Basic abc") is False
    now[0] += 1
    assert cache.tokens.get("Basic abc") is None


class BrokenKV(MemoryKVStore):
    async def get_with_metadata(self, key: str) -> Any:
        raise BackendError("KV read failed: 500")

    async def put(self, key: str, value: bytes, **options: Any) -> None:
        raise BackendError("KV PUT failed: 429 Too Many Requests")


async def test_a_failing_key_value_store_is_a_miss_and_a_logged_write(
    db: SqliteDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    await bump(db)
    cache = Cache(db, BrokenKV(), seconds=0)
    await cache.refresh()
    with caplog.at_level(logging.WARNING, logger="package_broker.cache"):
        assert await cache.get("k", decode) is None
        await cache.put("k", b"v", "v", ttl=60)
    assert cache.remembered("k") == "v"
    assert [r.getMessage().split(" (")[0].split(":")[0] for r in caplog.records] == [
        "cache read of k failed, building it instead",
        "cache write of k failed",
    ]


async def test_a_deferred_write_runs_only_when_the_runtime_runs_it(db: SqliteDatabase) -> None:
    await bump(db)
    kv = MemoryKVStore()
    cache = Cache(db, kv, seconds=0)
    await cache.refresh()
    deferred: list[Awaitable[Any]] = []
    await cache.put("k", b"v", "v", ttl=60, defer=deferred.append)
    assert await kv.get("k") is None
    await deferred.pop()
    assert await kv.get("k") == b"v"


async def test_an_unreadable_database_keeps_what_memory_holds(
    db: SqliteDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    await bump(db)
    cache = Cache(db, MemoryKVStore(), seconds=0)
    await cache.refresh()
    cache.remember("k", "v")
    await db.execute("DROP TABLE broker_state")
    with caplog.at_level(logging.WARNING, logger="package_broker.cache"):
        await cache.refresh()
    assert cache.remembered("k") == "v"
    assert "cannot read the cache generation" in caplog.text
