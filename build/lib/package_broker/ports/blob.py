"""A `Blob`: bytes received from outside (an uploaded or a downloaded archive), held exactly once.

On the server the bytes go to a temporary file (in memory up to a few MiB); on Workers they go to one
JavaScript buffer outside Python's heap (Pyodide's Wasm memory never shrinks, so an archive copied into it
would keep the isolate large for its whole life). Either way the core reads it through a seekable `file`,
the SHA-1 is computed once while receiving, and the object store may take the runtime's own copy
(`file.native` on Workers) instead of reading it through Python.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import TracebackType
from typing import BinaryIO

from ..errors import PayloadTooLarge

#: A spooled blob stays in memory up to this size, then moves to a temporary file.
SPOOL_IN_MEMORY = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Blob:
    #: Seekable; readers seek where they need to.
    file: BinaryIO
    size: int
    #: Hex SHA-1 of the bytes.
    sha1: str

    def __enter__(self) -> Blob:
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.file.close()


def blob_of(file: BinaryIO) -> Blob:
    """A Blob over a seekable file already holding the bytes (a file on disk, a BytesIO): hashes it once."""
    file.seek(0)
    digest = hashlib.sha1(usedforsecurity=False)
    size = 0
    while chunk := file.read(256 * 1024):
        digest.update(chunk)
        size += len(chunk)
    file.seek(0)
    return Blob(file, size, digest.hexdigest())


def too_large(limit: int, what: str = "the upload", setting: str | None = "MAX_UPLOAD_BYTES") -> PayloadTooLarge:
    """The error for a body past its cap, naming the setting that sets the cap (if any)."""
    return PayloadTooLarge(f"{what} is larger than the limit of {limit} bytes" + (f" ({setting})" if setting else ""))


async def spool(chunks: AsyncIterator[bytes], limit: int, what: str = "the upload") -> Blob:
    """Receive `chunks` into a Blob (memory, then a temporary file), hashing as they come.

    Raises:
        PayloadTooLarge: more than `limit` bytes arrived (reading stops there).
    """
    file = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)
    digest = hashlib.sha1(usedforsecurity=False)
    size = 0
    try:
        async for chunk in chunks:
            size += len(chunk)
            if size > limit:
                raise too_large(limit, what)
            digest.update(chunk)
            file.write(chunk)
    except BaseException:
        file.close()
        raise
    file.seek(0)
    return Blob(file, size, digest.hexdigest())  # type: ignore[arg-type]
