"""The ObjectStore contract (package_broker/ports/objects.py) on the filesystem and S3 stores.

`test_contract` runs every runtime-neutral check of tests/contract/checks/objects.py (R2 runs the same
ones in tests/worker/contract.test.mjs); the tests after it look at what S3 stores or need a missing bucket.
"""

from __future__ import annotations

import io
import os

import pytest

from package_broker.errors import BackendError
from package_broker.ports.objects import ObjectStore
from package_broker.runtimes.server.s3 import MULTIPART_THRESHOLD, S3ObjectStore
from tests.conftest import free_port
from tests.contract.checks import Check
from tests.contract.checks import objects as checks
from tests.contract.checks.objects import read
from tests.contract.services import S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, MotoS3


@pytest.mark.parametrize("check", checks.CHECKS, ids=lambda check: check.__name__)
async def test_contract(objects: ObjectStore, check: Check[ObjectStore]) -> None:
    await check(objects)


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
