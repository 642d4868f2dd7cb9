"""The KVStore contract (package_broker/ports/kv.py): bytes, metadata and keys behave the same everywhere.

Run on the memory, SQLite and Redis stores by tests/contract/test_kv.py, on Workers KV by
tests/worker/contract.test.mjs. Expiry itself is not checked here: seeing a key expire takes either a
clock the test controls (only the in-process stores have one) or a wait of at least MIN_TTL (60 s, Workers
KV's floor), so test_kv.py checks it per server adapter and tests/worker/adapters.test.mjs checks the
expiration Workers KV records.
"""

from __future__ import annotations

from package_broker.ports.kv import KVStore

from . import Check


async def a_missing_key_is_none(kv: KVStore) -> None:
    assert await kv.get("nope") is None
    assert await kv.get_with_metadata("nope") is None


async def bytes_round_trip_exactly(kv: KVStore) -> None:
    value = bytes(range(256)) * 64
    await kv.put("k", value)
    assert await kv.get("k") == value


async def an_empty_value_is_a_value_not_a_missing_key(kv: KVStore) -> None:
    await kv.put("k", b"")
    assert await kv.get("k") == b""
    assert await kv.get_with_metadata("k") == (b"", {})


async def keys_are_exact_strings(kv: KVStore) -> None:
    """No prefix matching, case folding or normalisation: similar keys are different keys."""
    keys = ["token:abc", "token:abcd", "TOKEN:abc", "token:ab", "p2/acme/ünï~dev.json"]
    for i, key in enumerate(keys):
        await kv.put(key, str(i).encode())
    await kv.delete("token:ab")
    assert [await kv.get(key) for key in keys] == [b"0", b"1", b"2", None, b"4"]


async def metadata_is_stored_and_replaced_with_the_value(kv: KVStore) -> None:
    await kv.put("k", b"one", metadata={"lm": "1", "g": "a"})
    assert await kv.get_with_metadata("k") == (b"one", {"lm": "1", "g": "a"})
    await kv.put("k", b"two")
    assert await kv.get_with_metadata("k") == (b"two", {})


async def metadata_values_may_be_any_string(kv: KVStore) -> None:
    metadata = {"lm": "1", "empty": "", "odd": 'line\nbreak "quoted" ünï {}'}
    await kv.put("k", b"v", metadata=metadata)
    assert await kv.get_with_metadata("k") == (b"v", metadata)


async def delete_removes_and_deleting_a_missing_key_is_harmless(kv: KVStore) -> None:
    await kv.put("k", b"v")
    await kv.delete("k")
    await kv.delete("k")
    assert await kv.get("k") is None


async def a_ttl_below_the_floor_is_raised_not_refused(kv: KVStore) -> None:
    """Workers KV refuses an expirationTtl under 60 s; the port raises it to MIN_TTL instead."""
    await kv.put("short", b"v", ttl=5, metadata={"g": "1"})
    await kv.put("long", b"w", ttl=3600)
    assert await kv.get_with_metadata("short") == (b"v", {"g": "1"})
    assert await kv.get("long") == b"w"


CHECKS: list[Check[KVStore]] = [
    a_missing_key_is_none,
    bytes_round_trip_exactly,
    an_empty_value_is_a_value_not_a_missing_key,
    keys_are_exact_strings,
    metadata_is_stored_and_replaced_with_the_value,
    metadata_values_may_be_any_string,
    delete_removes_and_deleting_a_missing_key_is_harmless,
    a_ttl_below_the_floor_is_raised_not_refused,
]
