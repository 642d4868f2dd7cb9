"""Blobs on Workers: a body received into one JavaScript Uint8Array, read by Python in windows.

Pyodide's Wasm memory only grows: every byte copied into Python keeps the isolate that much larger for
its whole life, against a 128 MB limit. So an upload or a mirrored archive is collected in JavaScript
(chunks are never turned into Python bytes), hashed with WebCrypto, read by the zip checks through a
seekable file that copies only the window asked for, and handed to R2 as the same JavaScript array
(`JsBufferReader.native`). The archive exists once, outside the Wasm heap, and is freed after the request.
"""

from __future__ import annotations

import io
from typing import Any

from js import Uint8Array, crypto
from pyodide.ffi import JsTypedArray

from ...ports.blob import Blob, too_large
from .ffi import is_null, to_bytes

_FIRST_CAPACITY = 256 * 1024
_READ_WINDOW = 256 * 1024


class _JsBufferRaw(io.RawIOBase):
    def __init__(self, array: JsTypedArray) -> None:
        self.native = array
        self._size = int(array.length)
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer: Any) -> int:
        count = max(0, min(len(buffer), self._size - self._position))
        if count:
            self.native.subarray(self._position, self._position + count).assign_to(memoryview(buffer)[:count])
            self._position += count
        return count


class JsBufferReader(io.BufferedReader):
    """A read-only, seekable binary file over a JavaScript Uint8Array (`native`)."""

    def __init__(self, array: JsTypedArray) -> None:
        super().__init__(_JsBufferRaw(array), buffer_size=_READ_WINDOW)
        self.native = array


async def receive(
    stream: Any,
    limit: int,
    declared: int | None = None,
    what: str = "the upload",
    setting: str | None = "MAX_UPLOAD_BYTES",
) -> Blob:
    """Collect a JavaScript ReadableStream into one Uint8Array and hash it with WebCrypto.

    `declared` (a Content-Length) sizes the array once; without it the array doubles as needed.

    Raises:
        PayloadTooLarge: more than `limit` bytes arrived (the stream is cancelled there).
    """
    if declared is not None and declared > limit:
        raise too_large(limit, what, setting)
    capacity = declared if declared else _FIRST_CAPACITY
    array = Uint8Array.new(capacity)
    size = 0
    if not is_null(stream):
        reader = stream.getReader()
        try:
            while True:
                result = await reader.read()
                if result.done:
                    break
                chunk = result.value
                length = int(chunk.length)
                if size + length > limit:
                    await reader.cancel()
                    raise too_large(limit, what, setting)
                if size + length > capacity:
                    capacity = max(capacity * 2, size + length)
                    grown = Uint8Array.new(capacity)
                    grown.set(array.subarray(0, size))
                    array = grown
                array.set(chunk, size)
                size += length
        finally:
            reader.releaseLock()
    array = array.subarray(0, size)
    digest = to_bytes(await crypto.subtle.digest("SHA-1", array))
    return Blob(JsBufferReader(array), size, digest.hex())
