"""R2ObjectStore: the ObjectStore port over an R2 bucket binding.

Reads hand back R2's own `ReadableStream` as `StoredObject.native`, so the Worker streams a dist from R2
to the client without the bytes passing through Python; `open()` still yields Python chunks for callers
that need them. Writes take a Blob's JavaScript array as it is (runtimes/cloudflare/blob.py), so an archive
never passes through Python's heap. The archive's SHA-1 is kept as custom metadata. Every method checks
its key with `check_key`, as the filesystem and S3 stores do: R2 itself would accept `../x` or `a//b`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, BinaryIO

from pyodide.ffi import JsException, JsProxy

from ...errors import BackendError
from ...ports.objects import ObjectInfo, StoredObject, check_key
from .ffi import failure, from_js_json, is_null, js_object, stream_chunks, to_uint8


def _info(key: str, obj: JsProxy) -> ObjectInfo:
    metadata = from_js_json(obj.customMetadata) or {}
    return ObjectInfo(
        key, int(obj.size), int(obj.uploaded.getTime() / 1000), {str(k): str(v) for k, v in metadata.items()}
    )


class R2ObjectStore:
    def __init__(self, binding: JsProxy) -> None:
        self._bucket = binding

    async def put(self, key: str, data: BinaryIO, *, size: int, metadata: dict[str, str]) -> None:
        check_key(key)
        native = getattr(data, "native", None)  # a Blob received in JavaScript: stored without a copy
        if native is not None:
            body, length = native, int(native.length)
        else:
            data.seek(0)
            body = to_uint8(data.read())
            length = int(body.length)
        if length != size:
            raise BackendError(f"refusing to store {key}: expected {size} bytes, read {length}")
        options = {
            "httpMetadata": js_object({"contentType": "application/zip"}),
            "customMetadata": js_object(metadata),
        }
        try:
            await self._bucket.put(key, body, js_object(options))
        except JsException as exc:
            raise failure("R2 write failed", exc) from exc

    async def get(self, key: str) -> StoredObject | None:
        try:
            obj = await self._bucket.get(check_key(key))
        except JsException as exc:
            raise failure("R2 read failed", exc) from exc
        if is_null(obj):
            return None
        stream = obj.body
        return StoredObject(_info(key, obj), lambda: stream_chunks(stream), native=stream)

    async def head(self, key: str) -> ObjectInfo | None:
        try:
            obj = await self._bucket.head(check_key(key))
        except JsException as exc:
            raise failure("R2 read failed", exc) from exc
        return None if is_null(obj) else _info(key, obj)

    async def delete(self, key: str) -> None:
        try:
            await self._bucket.delete(check_key(key))
        except JsException as exc:
            raise failure("R2 delete failed", exc) from exc


if TYPE_CHECKING:
    from ...ports.objects import ObjectStore

    def _implements_port(binding: JsProxy) -> None:
        """Never called: mypy checks here that R2ObjectStore implements the ObjectStore port."""
        _: ObjectStore = R2ObjectStore(binding)
