"""The KVStore contract (package_broker/ports/kv.py), for every server adapter."""

from __future__ import annotations

import time
from typing import Any
from unittest import mock

from package_broker.ports.kv import MIN_TTL


async def test_a_missing_key_is_none(kv: Any) -> None:
    assert await kv.get("nope") is None
    assert await kv.get_with_metadata("nope") is None


async def test_bytes_round_trip_exactly(kv: Any) -> None:
    value = bytes(range(256)) * 64
    await kv.put("k", value)
    assert await kv.get("k") == value


async def test_metadata_is_stored_and_replaced_with_the_value(kv: Any) -> None:
    await kv.put("k", b"one", metadata={"lm": "1", "g": "a"})
    assert await kv.get_with_metadata("k") == (b"one", {"lm": "1", "g": "a"})
    await kv.put("k", b"two")
    assert await kv.get_with_metadata("k") == (b"two", {})


async def test_delete_removes_and_deleting_a_missing_key_is_harmless(kv: Any) -> None:
    await kv.put("k", b"v")
    await kv.delete("k")
    await kv.delete("k")
    assert await kv.get("k") is None


async def test_keys_expire_after_their_ttl_with_a_60_second_floor(kv: Any) -> None:
    module = type(kv).__module__
    now = time.time()
    await kv.put("short", b"v", ttl=5)  # raised to MIN_TTL, as on Workers KV
    await kv.put("long", b"v", ttl=3600)
    await kv.put("forever", b"v")
    with mock.patch(f"{module}.time.time", return_value=now + MIN_TTL - 5):
        assert await kv.get("short") == b"v"  # 5 s asked, MIN_TTL kept
    with mock.patch(f"{module}.time.time", return_value=now + MIN_TTL + 1):
        assert await kv.get("short") is None
        assert await kv.get("long") == b"v"
        assert await kv.get("forever") == b"v"
