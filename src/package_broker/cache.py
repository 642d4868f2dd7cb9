"""Two cache levels in front of the database, so a warm request touches no storage at all.

* this process's memory (a server worker, a Worker isolate), holding decoded objects;
* the shared key/value store (SQLite file, Redis, Workers KV), holding bytes.

Both are invalidated by one *generation*: whoever changes what cached values depend on (a sync, a token
revocation, an upload) writes a new random value under the `generation` key. Every value stored in the
key/value store is tagged with the generation it was computed under and ignored under any other, so a
slow reader can never re-insert data that was stale when it read it. Each process re-reads the generation
at most every `seconds`, so a change is visible everywhere within `seconds` (1 by default) plus the key/value
store's own propagation delay (up to 60 s on Workers KV).
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

from .ports import KVStore

GENERATION_KEY = "generation"
T = TypeVar("T")


class Cache:
    def __init__(self, kv: KVStore, *, seconds: float = 1.0, max_entries: int = 4096) -> None:
        self.kv = kv
        self._seconds = seconds
        self._max_entries = max_entries
        self._memory: OrderedDict[str, Any] = OrderedDict()
        self._generation = ""
        self._checked_at = float("-inf")

    async def refresh(self) -> None:
        """Forget everything if another process bumped the generation since we last looked. Once per request."""
        now = time.monotonic()
        if now - self._checked_at < self._seconds:
            return
        self._checked_at = now
        raw = await self.kv.get(GENERATION_KEY)
        generation = raw.decode() if raw else ""
        if generation != self._generation:
            self._memory.clear()
            self._generation = generation

    def remembered(self, key: str) -> Any:
        """Return the decoded value this process holds for `key`, or None."""
        value = self._memory.get(key)
        if value is not None:
            self._memory.move_to_end(key)
        return value

    def remember(self, key: str, value: Any) -> None:
        self._memory[key] = value
        self._memory.move_to_end(key)
        if len(self._memory) > self._max_entries:
            self._memory.popitem(last=False)

    async def get(self, key: str, decode: Callable[[bytes, dict[str, str]], T]) -> T | None:
        """Return the value from memory, else from the key/value store (decoded and remembered), else None."""
        value = self.remembered(key)
        if value is not None:
            return value  # type: ignore[no-any-return]
        found = await self.kv.get_with_metadata(key)
        if found is None or found[1].get("g", "") != self._generation:
            return None
        value = decode(*found)
        self.remember(key, value)
        return value

    async def put(self, key: str, data: bytes, value: Any, *, ttl: int, metadata: dict[str, str] | None = None) -> None:
        """Store `data` in the key/value store, tagged with the current generation, and remember `value`."""
        self.remember(key, value)
        await self.kv.put(key, data, ttl=ttl, metadata={**(metadata or {}), "g": self._generation})

    async def invalidate(self) -> None:
        """Make every cached value stale, in this process at once and in every other within `seconds`."""
        self._memory.clear()
        self._generation = secrets.token_hex(8)
        await self.kv.put(GENERATION_KEY, self._generation.encode())
