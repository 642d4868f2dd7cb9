"""MemoryKVStore: a key/value store inside one process (tests, single-process setups).

Other processes cannot see it, so with CACHE_DRIVER=memory a `package-broker sync` run from the command
line cannot tell the running server that metadata changed; use the default `sqlite` driver for that.
"""

from __future__ import annotations

import time

from ...ports.kv import MIN_TTL


class MemoryKVStore:
    def __init__(self) -> None:
        self._items: dict[str, tuple[bytes, dict[str, str], float | None]] = {}

    def _live(self, key: str) -> tuple[bytes, dict[str, str], float | None] | None:
        item = self._items.get(key)
        if item is not None and item[2] is not None and item[2] <= time.time():
            del self._items[key]
            return None
        return item

    async def get(self, key: str) -> bytes | None:
        item = self._live(key)
        return item[0] if item else None

    async def get_with_metadata(self, key: str) -> tuple[bytes, dict[str, str]] | None:
        item = self._live(key)
        return (item[0], dict(item[1])) if item else None

    async def put(
        self, key: str, value: bytes, *, ttl: int | None = None, metadata: dict[str, str] | None = None
    ) -> None:
        expires = time.time() + max(ttl, MIN_TTL) if ttl is not None else None
        self._items[key] = (bytes(value), dict(metadata or {}), expires)

    async def delete(self, key: str) -> None:
        self._items.pop(key, None)
