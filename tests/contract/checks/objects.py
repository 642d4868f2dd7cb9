"""The ObjectStore contract (package_broker/ports/objects.py): what is stored is what is streamed back, and no
key can leave the store.

Run on the filesystem and S3 stores by tests/contract/test_objects.py, on R2 by tests/worker/contract.test.mjs.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Awaitable, Callable

from package_broker.errors import BackendError
from package_broker.ports.objects import ObjectStore

from . import Check, raises

#: Keys `check_key` refuses: every method of every adapter must refuse them before touching the store.
UNSAFE_KEYS = ["../escape", "dists/../../etc/passwd", "/abs", "a//b", "A/Upper"]


async def read(objects: ObjectStore, key: str) -> bytes:
    stored = await objects.get(key)
    assert stored is not None, f"{key} is missing"
    return b"".join([chunk async for chunk in stored.open()])


async def accepted_unsafe_keys(call: Callable[[str], Awaitable[object]]) -> list[str]:
    """The UNSAFE_KEYS that `call` accepted instead of raising BackendError."""
    accepted = []
    for key in UNSAFE_KEYS:
        try:
            await call(key)
        except BackendError:
            continue
        accepted.append(key)
    return accepted


async def a_missing_object_is_none(objects: ObjectStore) -> None:
    assert await objects.get("dists/acme/x/none.zip") is None
    assert await objects.head("dists/acme/x/none.zip") is None


async def bytes_and_metadata_round_trip_in_chunks(objects: ObjectStore) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    await objects.put("dists/acme/x/a.zip", io.BytesIO(data), size=len(data), metadata={"sha1": "abc"})
    info = await objects.head("dists/acme/x/a.zip")
    assert info is not None and info.size == len(data) and info.metadata == {"sha1": "abc"} and info.uploaded_at > 0
    stored = await objects.get("dists/acme/x/a.zip")
    assert stored is not None
    chunks = [chunk async for chunk in stored.open()]
    assert len(chunks) > 1 and b"".join(chunks) == data


async def head_and_get_describe_the_object_just_stored(objects: ObjectStore) -> None:
    """Same key, size and metadata from both; `uploaded_at` is the upload's Unix time in seconds.

    Metadata values are ASCII here: S3 sends user metadata as HTTP headers (the core stores hex digests).
    """
    await objects.put("dists/acme/x/b.zip", io.BytesIO(b"12345"), size=5, metadata={"sha1": "s", "n": "2"})
    head = await objects.head("dists/acme/x/b.zip")
    stored = await objects.get("dists/acme/x/b.zip")
    assert head is not None and stored is not None
    assert (head.key, head.size, head.metadata) == ("dists/acme/x/b.zip", 5, {"sha1": "s", "n": "2"})
    assert (stored.info.key, stored.info.size, stored.info.metadata) == (head.key, head.size, head.metadata)
    assert abs(head.uploaded_at - time.time()) < 300, head.uploaded_at


async def put_replaces_and_delete_is_idempotent(objects: ObjectStore) -> None:
    await objects.put("k/a", io.BytesIO(b"one"), size=3, metadata={})
    await objects.put("k/a", io.BytesIO(b"two!"), size=4, metadata={"v": "2"})
    assert await read(objects, "k/a") == b"two!"
    info = await objects.head("k/a")
    assert info is not None and (info.size, info.metadata) == (4, {"v": "2"})
    await objects.delete("k/a")
    await objects.delete("k/a")
    assert await objects.get("k/a") is None


async def a_short_write_is_refused_and_stores_nothing(objects: ObjectStore) -> None:
    await raises(BackendError, objects.put("k/short", io.BytesIO(b"abc"), size=10, metadata={}))
    assert await objects.get("k/short") is None


async def a_refused_write_leaves_the_old_object_as_it_was(objects: ObjectStore) -> None:
    """Writes are atomic: a failed replacement changes neither the bytes nor the metadata."""
    await objects.put("k/a", io.BytesIO(b"one"), size=3, metadata={"v": "1"})
    await raises(BackendError, objects.put("k/a", io.BytesIO(b"abc"), size=10, metadata={"v": "2"}))
    info = await objects.head("k/a")
    assert info is not None and (info.size, info.metadata) == (3, {"v": "1"})
    assert await read(objects, "k/a") == b"one"


async def put_refuses_keys_that_could_leave_the_store(objects: ObjectStore) -> None:
    accepted = await accepted_unsafe_keys(lambda key: objects.put(key, io.BytesIO(b"x"), size=1, metadata={}))
    assert not accepted, accepted


async def get_refuses_keys_that_could_leave_the_store(objects: ObjectStore) -> None:
    accepted = await accepted_unsafe_keys(objects.get)
    assert not accepted, accepted


async def head_refuses_keys_that_could_leave_the_store(objects: ObjectStore) -> None:
    accepted = await accepted_unsafe_keys(objects.head)
    assert not accepted, accepted


async def delete_refuses_keys_that_could_leave_the_store(objects: ObjectStore) -> None:
    accepted = await accepted_unsafe_keys(objects.delete)
    assert not accepted, accepted


CHECKS: list[Check[ObjectStore]] = [
    a_missing_object_is_none,
    bytes_and_metadata_round_trip_in_chunks,
    head_and_get_describe_the_object_just_stored,
    put_replaces_and_delete_is_idempotent,
    a_short_write_is_refused_and_stores_nothing,
    a_refused_write_leaves_the_old_object_as_it_was,
    put_refuses_keys_that_could_leave_the_store,
    get_refuses_keys_that_could_leave_the_store,
    head_refuses_keys_that_could_leave_the_store,
    delete_refuses_keys_that_could_leave_the_store,
]
