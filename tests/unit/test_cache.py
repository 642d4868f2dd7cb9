"""The two-level cache: generation-tagged values, invalidation across processes sharing one store."""

from __future__ import annotations

from package_broker.cache import Cache
from package_broker.runtimes.server.memory_kv import MemoryKVStore


def decode(data: bytes, _meta: dict[str, str]) -> str:
    return data.decode()


async def test_values_come_back_from_memory_then_from_the_store() -> None:
    kv = MemoryKVStore()
    first, second = Cache(kv, seconds=0), Cache(kv, seconds=0)
    await first.refresh()
    await second.refresh()
    await first.put("k", b"v", "v", ttl=60)
    assert first.remembered("k") == "v"
    assert second.remembered("k") is None
    assert await second.get("k", decode) == "v"


async def test_invalidate_makes_other_processes_drop_their_copies() -> None:
    kv = MemoryKVStore()
    writer, reader = Cache(kv, seconds=0), Cache(kv, seconds=0)
    await writer.refresh()
    await reader.refresh()
    await writer.put("k", b"old", "old", ttl=60)
    assert await reader.get("k", decode) == "old"
    await writer.invalidate()
    await reader.refresh()
    assert reader.remembered("k") is None
    assert await reader.get("k", decode) is None


async def test_a_value_computed_before_an_invalidation_is_never_served_after_it() -> None:
    kv = MemoryKVStore()
    slow, writer, other = Cache(kv, seconds=0), Cache(kv, seconds=0), Cache(kv, seconds=0)
    for cache in (slow, writer, other):
        await cache.refresh()
    await writer.invalidate()  # happens while `slow` still works under the old generation
    await slow.put("k", b"stale", "stale", ttl=60)
    await other.refresh()
    assert await other.get("k", decode) is None


async def test_memory_is_bounded() -> None:
    cache = Cache(MemoryKVStore(), seconds=0, max_entries=3)
    for i in range(5):
        cache.remember(str(i), i + 1)
    assert [cache.remembered(str(i)) for i in range(5)] == [None, None, 3, 4, 5]
