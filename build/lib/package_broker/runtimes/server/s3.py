"""S3ObjectStore: dist archives in an S3 bucket (AWS S3, Cloudflare R2, MinIO or any S3-compatible store).

A directory on one machine cannot serve several replicas behind a load balancer; a bucket can, and it
outlives the machines. boto3 is synchronous, so every call runs in a worker thread (`asyncio.to_thread`)
and the event loop keeps serving.

- `put` checks the file holds exactly `size` bytes before sending it (`upload_fileobj`, multipart for big
  files) and that the stored object has that size afterwards. An S3 object appears whole or not at all.
- `get` reads the object's head; `open()` then streams the body in 256 KiB chunks, asking for the same
  ETag (`If-Match`), so the bytes always match the size and metadata already announced.
- Metadata is S3 user metadata (`x-amz-meta-*`): keys come back lower-case and values must be ASCII; the
  core stores only `sha1`.
- Missing keys are None. On AWS that needs `s3:ListBucket` on the bucket (without it S3 answers 403 for a
  missing key); the credentials also need `s3:GetObject`, `s3:PutObject` and `s3:DeleteObject`.

Keys follow the same rule as the filesystem store, so archives can move between the two.
"""

from __future__ import annotations

import asyncio
import io
import os
from collections.abc import AsyncIterator, Callable
from typing import Any, BinaryIO, TypeVar

import boto3
import boto3.exceptions
import boto3.s3.transfer
import botocore.config
import botocore.exceptions

from ...errors import BackendError
from ...ports.objects import ObjectInfo, StoredObject, check_key

CHUNK = 256 * 1024
MULTIPART_THRESHOLD = 16 * 1024 * 1024
_MISSING = ("404", "NoSuchKey", "NotFound")
_ERRORS = (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError, boto3.exceptions.Boto3Error)
T = TypeVar("T")


def _code(exc: BaseException) -> str:
    if isinstance(exc, botocore.exceptions.ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def _message(exc: BaseException) -> str:
    """boto's own one-line description: the operation and S3's error code, never the credentials."""
    if isinstance(exc, boto3.exceptions.S3UploadFailedError) and exc.__context__ is not None:
        exc = exc.__context__
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def make_config(endpoint: str | None) -> botocore.config.Config:
    options: dict[str, Any] = {
        "signature_version": "s3v4",
        "retries": {"max_attempts": 3, "mode": "standard"},
        "max_pool_connections": 32,
        "connect_timeout": 10,
        "read_timeout": 60,
    }
    if endpoint:
        # S3-compatible stores (MinIO, R2) want path-style URLs on their own host, and not all of them
        # accept the CRC checksums newer botocore sends by default.
        options["s3"] = {"addressing_style": "path"}
        try:
            return botocore.config.Config(
                **options, request_checksum_calculation="when_required", response_checksum_validation="when_required"
            )
        except TypeError:  # botocore before 1.36 has no such options and sends no such checksums
            pass
    return botocore.config.Config(**options)


class S3ObjectStore:
    def __init__(self, client: Any, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    @classmethod
    async def open(
        cls,
        bucket: str,
        *,
        endpoint: str | None = None,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
    ) -> S3ObjectStore:
        """Make a client (explicit keys, else boto3's chain: AWS_* variables, ~/.aws, instance roles) and
        check that the bucket can be reached, so a wrong bucket or key stops the server at start-up.
        """

        def make() -> Any:
            credentials = (
                {"aws_access_key_id": access_key_id, "aws_secret_access_key": secret_access_key}
                if access_key_id and secret_access_key
                else {}
            )
            return boto3.session.Session().client(
                "s3", endpoint_url=endpoint, region_name=region, config=make_config(endpoint), **credentials
            )

        where = f"bucket {bucket!r}" + (f" at {endpoint}" if endpoint else "")
        try:
            client = await asyncio.to_thread(make)
        except _ERRORS as exc:
            raise BackendError(f"S3_BUCKET: cannot use {where}: {_message(exc)}") from exc
        store = cls(client, bucket)
        try:
            await store._call(client.head_bucket, Bucket=bucket)
        except botocore.exceptions.NoCredentialsError as exc:
            raise BackendError(
                "S3_ACCESS_KEY_ID: no S3 credentials found; set S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY"
            ) from exc
        except _ERRORS as exc:
            code = _code(exc)
            if code in _MISSING or code == "NoSuchBucket":
                problem = f"{where} does not exist; create it or fix S3_BUCKET"
            elif code in ("403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
                problem = (
                    f"access to {where} was refused ({code}); check S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY "
                    "(they need s3:ListBucket, s3:GetObject, s3:PutObject and s3:DeleteObject on the bucket)"
                )
            else:
                problem = f"cannot reach {where}: {_message(exc)}"
            store.close()
            raise BackendError(f"S3_BUCKET: {problem}") from exc
        return store

    @staticmethod
    async def _call(function: Callable[..., T], /, **kwargs: Any) -> T:
        return await asyncio.to_thread(function, **kwargs)

    async def _head(self, key: str) -> tuple[ObjectInfo, str] | None:
        try:
            head = await self._call(self.client.head_object, Bucket=self.bucket, Key=check_key(key))
        except _ERRORS as exc:
            if _code(exc) in _MISSING:
                return None
            raise BackendError(f"object store read failed: {_message(exc)}") from exc
        info = ObjectInfo(
            key,
            int(head["ContentLength"]),
            int(head["LastModified"].timestamp()),
            {str(k): str(v) for k, v in (head.get("Metadata") or {}).items()},
        )
        return info, str(head.get("ETag", ""))

    async def put(self, key: str, data: BinaryIO, *, size: int, metadata: dict[str, str]) -> None:
        check_key(key)
        await asyncio.to_thread(self._put, key, data, size, metadata)

    def _put(self, key: str, data: BinaryIO, size: int, metadata: dict[str, str]) -> None:
        try:
            data.seek(0, os.SEEK_END)
            readable = data.tell()
            data.seek(0)
        except (OSError, io.UnsupportedOperation) as exc:
            raise BackendError(f"cannot read the archive to store as {key}: {exc}") from exc
        if readable != size:
            raise BackendError(f"refusing to store {key}: {readable} bytes to send, {size} expected")
        transfer = boto3.s3.transfer.TransferConfig(
            multipart_threshold=MULTIPART_THRESHOLD, multipart_chunksize=MULTIPART_THRESHOLD
        )
        try:
            self.client.upload_fileobj(data, self.bucket, key, ExtraArgs={"Metadata": dict(metadata)}, Config=transfer)
            stored = self.client.head_object(Bucket=self.bucket, Key=key)
        except _ERRORS as exc:
            raise BackendError(f"object store write failed: {_message(exc)}") from exc
        if int(stored["ContentLength"]) != size:
            self.client.delete_object(Bucket=self.bucket, Key=key)
            raise BackendError(f"stored {key} has {stored['ContentLength']} bytes, {size} expected; removed it")

    async def get(self, key: str) -> StoredObject | None:
        found = await self._head(key)
        if found is None:
            return None
        info, etag = found

        async def chunks() -> AsyncIterator[bytes]:
            try:
                response = await self._call(self.client.get_object, Bucket=self.bucket, Key=key, IfMatch=etag)
            except _ERRORS as exc:
                raise BackendError(f"object store read of {key} failed: {_message(exc)}") from exc
            body = response["Body"]
            try:
                while True:
                    try:
                        chunk = await asyncio.to_thread(body.read, CHUNK)
                    except _ERRORS as exc:
                        raise BackendError(f"object store read of {key} failed: {_message(exc)}") from exc
                    if not chunk:
                        break
                    yield chunk
            finally:
                body.close()

        return StoredObject(info, chunks)

    async def head(self, key: str) -> ObjectInfo | None:
        found = await self._head(key)
        return found[0] if found else None

    async def delete(self, key: str) -> None:
        try:
            await self._call(self.client.delete_object, Bucket=self.bucket, Key=check_key(key))
        except _ERRORS as exc:
            if _code(exc) in _MISSING:
                return
            raise BackendError(f"object store delete failed: {_message(exc)}") from exc

    def close(self) -> None:
        """Release the client's connection pool."""
        self.client.close()

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)
