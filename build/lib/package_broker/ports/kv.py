"""The key/value port: Workers KV on Cloudflare; SQLite, memory or Redis on the server.

Used for caches (token look-ups, built metadata) and counters, never as the source of truth: anything
in it can be rebuilt from the database. Like Workers KV, a write may take a moment to be seen elsewhere.
"""

from __future__ import annotations

from typing import Protocol

#: Workers KV refuses expirations shorter than this; adapters on every runtime apply the same floor.
MIN_TTL = 60


class KVStore(Protocol):
    async def get(self, key: str) -> bytes | None:
        """Return the value, or None when the key is missing or expired."""
        ...

    async def get_with_metadata(self, key: str) -> tuple[bytes, dict[str, str]] | None:
        """Return the value and the metadata stored with it (empty dict if none), or None when missing."""
        ...

    async def put(
        self, key: str, value: bytes, *, ttl: int | None = None, metadata: dict[str, str] | None = None
    ) -> None:
        """Store `value`, replacing any previous value and metadata.

        `ttl` is in seconds and raised to `MIN_TTL` if lower; None keeps the key until it is deleted.
        Metadata must stay small (Workers KV allows 1024 bytes of JSON).
        """
        ...

    async def delete(self, key: str) -> None:
        """Remove the key; deleting a missing key is a no-op."""
        ...
