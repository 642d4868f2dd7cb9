"""RedisKVStore: the key/value cache in Redis, shared by server replicas on any number of hosts.

The SQLite cache file is shared only by the processes of one machine; with several replicas behind a load
balancer, a token revoked on one must stop working on all of them within `MEMO_SECONDS`, so they need one
cache they all reach. Redis is that cache.

Each value is stored with its metadata in one string, so a single `SET` replaces both atomically and a
reader never sees new bytes with old metadata:

    <metadata as compact JSON, empty when there is none> "\\n" <the raw value bytes>

JSON never contains a raw newline, so the first newline ends the metadata. Expiry is Redis's own
(`SET ... EX`, at least `MIN_TTL` seconds, as on Workers KV). Every key gets `CACHE_PREFIX` (default
`pkb:`) in front, so several brokers can share one Redis database.
"""

from __future__ import annotations

import json
from urllib.parse import unquote, urlsplit

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from ...errors import BackendError
from ...ports.kv import MIN_TTL

SEPARATOR = b"\n"
SOCKET_TIMEOUT = 10


def describe_target(url: str) -> str:
    """`host:port/db` for messages: the URL without user, password or query."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return parts.path
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.hostname or 'localhost'}{port}{parts.path or ''}"


def encode(value: bytes, metadata: dict[str, str] | None) -> bytes:
    head = json.dumps(metadata, separators=(",", ":")).encode() if metadata else b""
    return head + SEPARATOR + value


def decode(raw: bytes) -> tuple[bytes, dict[str, str]]:
    head, separator, value = raw.partition(SEPARATOR)
    if not separator:
        raise BackendError("key/value read failed: a cached value is not in the broker's format")
    return value, json.loads(head) if head else {}


class RedisKVStore:
    def __init__(self, client: aioredis.Redis, prefix: str = "pkb:", *, password: str | None = None) -> None:
        self.client = client
        self.prefix = prefix
        self._password = password

    @classmethod
    async def open(cls, url: str, prefix: str = "pkb:") -> RedisKVStore:
        """Connect to `url` (`redis://[:password@]host:6379/0`, `rediss://` for TLS) and check it answers.

        Raises BackendError naming the host (never the password) when Redis cannot be reached.
        """
        password = urlsplit(url).password
        try:
            client = aioredis.Redis.from_url(
                url, socket_timeout=SOCKET_TIMEOUT, socket_connect_timeout=SOCKET_TIMEOUT, health_check_interval=30
            )
        except ValueError as exc:
            raise BackendError(f"CACHE_URL: not a Redis URL ({type(exc).__name__})") from None
        store = cls(client, prefix, password=unquote(password) if password else None)
        try:
            await client.ping()
        except RedisError as exc:
            await client.aclose()
            raise BackendError(
                f"CACHE_URL: cannot connect to Redis at {describe_target(url)}: {store._message(exc)}"
            ) from exc
        return store

    def key(self, key: str) -> str:
        """The Redis key under which `key` is stored (with the prefix)."""
        return self.prefix + key

    def _message(self, exc: BaseException) -> str:
        text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return text.replace(self._password, "***") if self._password else text

    async def _raw(self, key: str) -> bytes | None:
        try:
            raw = await self.client.get(self.key(key))
        except RedisError as exc:
            raise BackendError(f"key/value read failed: {self._message(exc)}") from exc
        return raw.encode() if isinstance(raw, str) else raw

    async def get(self, key: str) -> bytes | None:
        raw = await self._raw(key)
        return decode(raw)[0] if raw is not None else None

    async def get_with_metadata(self, key: str) -> tuple[bytes, dict[str, str]] | None:
        raw = await self._raw(key)
        return decode(raw) if raw is not None else None

    async def put(
        self, key: str, value: bytes, *, ttl: int | None = None, metadata: dict[str, str] | None = None
    ) -> None:
        try:
            # A plain SET also clears an expiry the previous value had: `ttl=None` keeps the key for good.
            await self.client.set(
                self.key(key), encode(bytes(value), metadata), ex=max(ttl, MIN_TTL) if ttl is not None else None
            )
        except RedisError as exc:
            raise BackendError(f"key/value write failed: {self._message(exc)}") from exc

    async def delete(self, key: str) -> None:
        try:
            await self.client.delete(self.key(key))
        except RedisError as exc:
            raise BackendError(f"key/value delete failed: {self._message(exc)}") from exc

    async def aclose(self) -> None:
        await self.client.aclose()


class RedisCounter:
    """Request and failure counts in Redis (when it is the configured cache): INCRBY and EXPIRE in one
    transaction, atomic across every process and replica that shares the Redis."""

    def __init__(self, client: aioredis.Redis, prefix: str = "pkb:") -> None:
        self.client = client
        self.prefix = prefix

    async def add(self, key: str, window_start: int, amount: int, ttl: int) -> int:
        name = f"{self.prefix}count:{key}:{window_start}"
        try:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.incrby(name, amount)
                pipe.expire(name, ttl + 60)
                total, _ = await pipe.execute()
        except (RedisError, OSError) as exc:
            raise BackendError(f"Redis counter failed: {type(exc).__name__}") from exc
        return int(total)
