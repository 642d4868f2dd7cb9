"""The object store port for dist archives: R2 on Workers, filesystem or S3 on the server.

Objects are written once under content-addressed keys and streamed out in chunks, so no runtime ever holds
a whole archive in memory to serve it.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Protocol

from ..errors import BackendError

_SAFE_KEY = re.compile(r"^[a-z0-9][a-z0-9_.~-]*(?:/[a-z0-9][a-z0-9_.~-]*)*$")


def check_key(key: str) -> str:
    """Return `key` if it is a safe object key: lower-case path segments, no `..`, nothing absolute.

    The core only builds keys from validated package names and hex digests; adapters check again, so a
    key can never leave the store (a directory on disk, a bucket prefix).

    Raises:
        BackendError: the key is not safe.
    """
    if not _SAFE_KEY.match(key) or ".." in key.split("/"):
        raise BackendError(f"refusing unsafe object key {key!r}")
    return key


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str
    size: int
    #: Unix seconds when the object was stored.
    uploaded_at: int
    #: Small string metadata stored with the object (e.g. `sha1`).
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StoredObject:
    info: ObjectInfo
    #: Call once to stream the bytes; each chunk is at most a few hundred KiB.
    open: Callable[[], AsyncIterator[bytes]]
    #: The runtime's own handle on the body (an R2 `ReadableStream` on Workers), which the runtime's
    #: edge may send as it is instead of iterating `open()` in Python. Opaque to the core.
    native: Any = None


class ObjectStore(Protocol):
    async def put(self, key: str, data: BinaryIO, *, size: int, metadata: dict[str, str]) -> None:
        """Store the `size` bytes readable from `data` (a seekable file positioned at 0) under `key`.

        The write is atomic: readers see the old object or the new one, never a partial file.
        """
        ...

    async def get(self, key: str) -> StoredObject | None:
        """Return the object for streaming, or None when there is no such key."""
        ...

    async def head(self, key: str) -> ObjectInfo | None:
        """Return the object's size and metadata without its body, or None when missing."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the object; deleting a missing key is a no-op."""
        ...
