"""Two cache levels in front of the database, so a warm request touches no storage at all.

* this process's memory (a server worker, a Worker isolate), holding decoded objects;
* the shared key/value store (SQLite file, Redis, Workers KV), holding built documents as bytes.

Both are invalidated by one *generation*, a random value kept in the database (`broker_state`), which is
strongly consistent on every runtime (Workers KV is not: a change there can take 60 s or more to reach
other locations). Whoever changes what cached values depend on (a sync, an upload, a token created or
revoked) writes a new generation in the same transaction as the change (`Cache.bump`). Every value stored
in the key/value store is tagged with the generation it was computed under and ignored under any other,
so a stale or slow copy can never be served after a change. Each process re-reads the generation at most
every `seconds` (MEMO_SECONDS, 1 by default), so a change is visible everywhere within that bound.

Token look-ups are remembered in memory only, and for at most `TOKEN_MEMO_SECONDS`, so a token row changed
behind the broker's back (SQL without a new generation) still takes effect within that bound.

The cache is never the reason a request fails: a key/value store that cannot be read is a miss, one that
cannot be written is logged (writes run after the response where the runtime allows it).
"""

from __future__ import annotations

import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from .errors import BrokerError
from .ports import Database, KVStore
from .ports.database import Params

GENERATION = "generation"
#: How long a token look-up (known or unknown) is remembered by one process.
TOKEN_MEMO_SECONDS = 60
T = TypeVar("T")
Defer = Callable[[Awaitable[Any]], None]

log = logging.getLogger("package_broker.cache")


def bump_statement(now: int) -> tuple[str, Params]:
    """The statement that makes every cached value stale: run it in the same batch as the change."""
    return (
        "INSERT INTO broker_state (name, value, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        (GENERATION, secrets.token_hex(8), now),
    )


class Memory:
    """A bounded LRU map for one process, with an optional age limit per entry."""

    def __init__(self, max_entries: int, max_age: float | None = None) -> None:
        self._entries: OrderedDict[str, tuple[Any, float]] = OrderedDict()
        self._max_entries = max_entries
        self._max_age = max_age

    def get(self, key: str) -> Any:
        """The value remembered for `key`, or None (also when it is older than the age limit)."""
        found = self._entries.get(key)
        if found is None:
            return None
        value, stored_at = found
        if self._max_age is not None and time.monotonic() - stored_at >= self._max_age:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    def put(self, key: str, value: Any) -> None:
        self._entries[key] = (value, time.monotonic())
        self._entries.move_to_end(key)
        if len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


class Cache:
    def __init__(self, db: Database, kv: KVStore, *, seconds: float = 1.0, max_entries: int = 4096) -> None:
        self.db = db
        self.kv = kv
        self._seconds = seconds
        self._memory = Memory(max_entries)
        #: Authorization header -> Token, or False for a token we know is unknown (never stored elsewhere).
        self.tokens = Memory(max_entries, max_age=TOKEN_MEMO_SECONDS)
        self._generation: str | None = None
        self._checked_at = float("-inf")

    def due(self) -> bool:
        """True when `refresh` would read the generation: a plain call, so that the many requests between
        two reads do not each create and await a coroutine."""
        return time.monotonic() - self._checked_at >= self._seconds

    async def refresh(self) -> None:
        """Forget everything if the generation changed since we last looked. At most once per `seconds`.

        If the database cannot be read, what this process holds keeps being served (and logged) until it can.
        """
        now = time.monotonic()
        if now - self._checked_at < self._seconds:
            return
        self._checked_at = now
        try:
            row = await self.db.fetch_one("SELECT value FROM broker_state WHERE name = ?", (GENERATION,))
        except BrokerError as exc:
            log.warning("cannot read the cache generation; serving what this process holds: %s", exc)
            return
        generation = str(row["value"]) if row else None
        if generation != self._generation:
            self._memory.clear()
            self.tokens.clear()
            self._generation = generation

    def forget(self) -> None:
        """Drop what this process holds and re-read the generation on the next request (after a local write)."""
        self._memory.clear()
        self.tokens.clear()
        self._checked_at = float("-inf")

    def remembered(self, key: str) -> Any:
        """Return the decoded value this process holds for `key`, or None."""
        return self._memory.get(key)

    def remember(self, key: str, value: Any) -> None:
        self._memory.put(key, value)

    async def get(self, key: str, decode: Callable[[bytes, dict[str, str]], T]) -> T | None:
        """Return the value from memory, else from the key/value store (decoded and remembered), else None."""
        value = self._memory.get(key)
        if value is not None:
            return value  # type: ignore[no-any-return]
        if self._generation is None:
            return None  # no generation read (yet): nothing in the key/value store can be trusted
        try:
            found = await self.kv.get_with_metadata(key)
        except BrokerError as exc:
            log.warning("cache read of %s failed, building it instead: %s", key, exc)
            return None
        if found is None or found[1].get("g") != self._generation:
            return None
        value = decode(*found)
        self._memory.put(key, value)
        return value

    async def put(
        self,
        key: str,
        data: bytes,
        value: Any,
        *,
        ttl: int,
        metadata: dict[str, str] | None = None,
        defer: Defer | None = None,
    ) -> None:
        """Remember `value` and store `data` in the key/value store, tagged with the current generation.

        With `defer` (a request's), the store write runs after the response; either way its failure is
        logged, never raised.
        """
        self._memory.put(key, value)
        if self._generation is None:
            return
        write = self._store(key, data, ttl, {**(metadata or {}), "g": self._generation})
        if defer is None:
            await write
        else:
            defer(write)

    async def _store(self, key: str, data: bytes, ttl: int, metadata: dict[str, str]) -> None:
        try:
            await self.kv.put(key, data, ttl=ttl, metadata=metadata)
        except BrokerError as exc:
            log.warning("cache write of %s failed (the value is rebuilt when needed): %s", key, exc)
