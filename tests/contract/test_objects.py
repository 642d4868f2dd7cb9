"""The ObjectStore contract (package_broker/ports/objects.py), for every server adapter."""

from __future__ import annotations

import io
import os
from typing import Any

import pytest

from package_broker.errors import BackendError
from package_broker.runtimes.server.s3 import MULTIPART_THRESHOLD, S3ObjectStore
from tests.conftest import free_port
from tests.contract.services import S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, MotoS3


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


# -- S3 ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("objects", ["s3"], indirect=True)
async def test_s3_keeps_metadata_as_user_metadata_and_uploads_big_files_in_parts(objects: S3ObjectStore) -> None:
    data = os.urandom(MULTIPART_THRESHOLD + 1024)
    await objects.put("dists/acme/x/big.zip", io.BytesIO(data), size=len(data), metadata={"sha1": "abc"})
    head = objects.client.head_object(Bucket=objects.bucket, Key="dists/acme/x/big.zip")
    assert head["Metadata"] == {"sha1": "abc"} and head["ContentLength"] == len(data)
    assert head["ETag"].strip('"').endswith("-2")  # a multipart upload of two parts
    assert await read(objects, "dists/acme/x/big.zip") == data


@pytest.mark.parametrize("objects", ["s3"], indirect=True)
async def test_s3_streams_only_the_object_it_announced(objects: S3ObjectStore) -> None:
    await objects.put("k/a", io.BytesIO(b"one"), size=3, metadata={"sha1": "1"})
    stored = await objects.get("k/a")
    assert stored is not None and stored.info.size == 3
    await objects.put("k/a", io.BytesIO(b"other"), size=5, metadata={"sha1": "2"})
    with pytest.raises(BackendError):  # size and sha1 were already sent for the old bytes
        [chunk async for chunk in stored.open()]


async def test_s3_start_up_names_a_missing_bucket_and_an_unreachable_endpoint(moto_s3: MotoS3) -> None:
    with pytest.raises(BackendError) as caught:
        await S3ObjectStore.open(
            "pb-no-such-bucket",
            endpoint=moto_s3.endpoint,
            access_key_id=S3_ACCESS_KEY_ID,
            secret_access_key=S3_SECRET_ACCESS_KEY,
        )
    assert str(caught.value).startswith("S3_BUCKET: bucket 'pb-no-such-bucket'") and "does not exist" in str(
        caught.value
    )
    with pytest.raises(BackendError) as caught:
        await S3ObjectStore.open(
            "pb-bucket",
            endpoint=f"http://127.0.0.1:{free_port()}",
            access_key_id=S3_ACCESS_KEY_ID,
            secret_access_key=S3_SECRET_ACCESS_KEY,
        )
    message = str(caught.value)
    assert message.startswith("S3_BUCKET: cannot reach bucket 'pb-bucket' at http://127.0.0.1:")
    assert S3_SECRET_ACCESS_KEY not in message and "\n" not in message
