"""The KVStore contract (package_broker/ports/kv.py) on the memory, SQLite and Redis stores.

`test_contract` runs every runtime-neutral check of tests/contract/checks/kv.py (Workers KV runs the same
ones in tests/worker/contract.test.mjs); the tests after it move the clock of in-process stores or look
at what Redis stores.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from unittest import mock

import pytest

from package_broker.errors import BackendError
from package_broker.ports.kv import MIN_TTL, KVStore
from package_broker.runtimes.server.redis_kv import RedisKVStore, decode, encode
from tests.conftest import free_port
from tests.contract.checks import Check
from tests.contract.checks import kv as checks
from tests.contract.services import REDIS_URL, redis_prefix


@pytest.mark.parametrize("check", checks.CHECKS, ids=lambda check: check.__name__)
async def test_contract(kv: KVStore, check: Check[KVStore]) -> None:
    await check(kv)


@pytest.mark.parametrize("kv", ["memory", "sqlite"], indirect=True)
async def test_keys_expire_after_their_ttl_with_a_60_second_floor(kv: Any) -> None:
    # In-process adapters keep the expiry themselves, so their clock can be moved; Redis and Workers KV
    # keep their own (see the Redis test below and tests/worker/adapters.test.mjs).
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


# -- Redis: the server keeps the expiry, one SET writes value and metadata together -----------------------


@pytest.mark.parametrize("kv", ["redis"], indirect=True)
async def test_redis_expiry_is_set_on_the_server_with_a_60_second_floor(kv: RedisKVStore) -> None:
    await kv.put("short", b"v", ttl=5)  # raised to MIN_TTL, as on Workers KV
    await kv.put("long", b"v", ttl=3600)
    await kv.put("forever", b"v")
    assert MIN_TTL - 5 <= await kv.client.ttl(kv.key("short")) <= MIN_TTL
    assert 3600 - 5 <= await kv.client.ttl(kv.key("long")) <= 3600
    assert await kv.client.ttl(kv.key("forever")) == -1  # no expiry
    await kv.put("short", b"w")  # a put without ttl keeps the new value for good
    assert await kv.client.ttl(kv.key("short")) == -1
    # Expiry is Redis's own: once the server drops the key, the adapter reports it missing.
    await kv.client.pexpire(kv.key("long"), 20)
    await asyncio.sleep(0.2)
    assert await kv.get("long") is None and await kv.get_with_metadata("long") is None


@pytest.mark.parametrize("kv", ["redis"], indirect=True)
async def test_redis_stores_value_and_metadata_in_one_envelope_under_the_prefix(kv: RedisKVStore) -> None:
    value = b'\n{"not": "metadata"}\n' + bytes(range(256))
    metadata = {"lm": "1", "odd": 'line\nbreak "quoted" ünï'}
    await kv.put("k", value, metadata=metadata)
    raw = await kv.client.get(kv.key("k"))
    assert raw is not None and raw.startswith(b"{") and raw.endswith(value)
    assert await kv.get_with_metadata("k") == (value, metadata)
    assert await kv.client.exists("k") == 0  # nothing outside the prefix
    await kv.put("k", b"")
    assert await kv.get_with_metadata("k") == (b"", {})


@pytest.mark.parametrize("kv", ["redis"], indirect=True)
async def test_redis_prefixes_keep_brokers_sharing_one_redis_apart(kv: RedisKVStore) -> None:
    with redis_prefix() as other_prefix:
        other = await RedisKVStore.open(REDIS_URL, other_prefix)
        try:
            await kv.put("token:abc", b"mine")
            await other.put("token:abc", b"theirs", metadata={"g": "2"})
            assert await kv.get("token:abc") == b"mine"
            assert await other.get_with_metadata("token:abc") == (b"theirs", {"g": "2"})
            await other.delete("token:abc")
            assert await kv.get("token:abc") == b"mine"
        finally:
            await other.aclose()


async def test_an_unreachable_redis_is_one_clear_error_without_the_password() -> None:
    with pytest.raises(BackendError) as caught:
        await RedisKVStore.open(f"redis://:hunter2-secret@127.0.0.1:{free_port()}/0")
    message = str(caught.value)
    assert message.startswith("CACHE_URL: cannot connect to Redis at 127.0.0.1:") and "hunter2" not in message


def test_redis_envelope_metadata_is_compact_json() -> None:
    assert encode(b"v", {"a": "1"}) == b'{"a":"1"}\nv'
    assert encode(b"v", None) == encode(b"v", {}) == b"\nv"
    assert decode(encode(b"x\ny", {"k": "\n"})) == (b"x\ny", {"k": "\n"})
    assert json.loads(encode(b"", {"k": "\n"}).partition(b"\n")[0]) == {"k": "\n"}
