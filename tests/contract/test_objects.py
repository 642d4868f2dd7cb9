"""The ObjectStore contract (package_broker/ports/objects.py), for every server adapter."""

from __future__ import annotations

import io
import os
from typing import Any

import pytest

from package_broker.errors import BackendError


async def read(objects: Any, key: str) -> bytes:
    stored = await objects.get(key)
    assert stored is not None
    return b"".join([chunk async for chunk in stored.open()])


async def test_a_missing_object_is_none(objects: Any) -> None:
    assert await objects.get("dists/acme/x/none.zip") is None
    assert await objects.head("dists/acme/x/none.zip") is None


async def test_bytes_and_metadata_round_trip_in_chunks(objects: Any) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    await objects.put("dists/acme/x/a.zip", io.BytesIO(data), size=len(data), metadata={"sha1": "abc"})
    info = await objects.head("dists/acme/x/a.zip")
    assert info is not None and info.size == len(data) and info.metadata == {"sha1": "abc"} and info.uploaded_at > 0
    stored = await objects.get("dists/acme/x/a.zip")
    assert stored is not None
    chunks = [chunk async for chunk in stored.open()]
    assert len(chunks) > 1 and b"".join(chunks) == data


async def test_put_replaces_and_delete_is_idempotent(objects: Any) -> None:
    await objects.put("k/a", io.BytesIO(b"one"), size=3, metadata={})
    await objects.put("k/a", io.BytesIO(b"two!"), size=4, metadata={"v": "2"})
    assert await read(objects, "k/a") == b"two!"
    await objects.delete("k/a")
    await objects.delete("k/a")
    assert await objects.get("k/a") is None


async def test_a_short_write_is_refused_and_stores_nothing(objects: Any) -> None:
    with pytest.raises(BackendError):
        await objects.put("k/short", io.BytesIO(b"abc"), size=10, metadata={})
    assert await objects.get("k/short") is None


@pytest.mark.parametrize("key", ["../escape", "dists/../../etc/passwd", "/abs", "a//b", "A/Upper"])
async def test_keys_that_could_leave_the_store_are_refused(objects: Any, key: str) -> None:
    with pytest.raises(BackendError):
        await objects.put(key, io.BytesIO(b"x"), size=1, metadata={})
