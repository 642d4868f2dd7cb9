"""Every call through a port is charged to the running invocation's budget (package_broker.budget).

On Cloudflare each call to D1, KV or R2 and each outbound fetch is a subrequest, and an invocation may make
only so many. The Broker wraps whatever adapters a runtime gives it in these, so the count is kept in one
place for both runtimes: the Worker sets a limited budget per invocation, the server an unlimited one, and
the sync job asks the same budget whether it can afford its next step on either.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, BinaryIO

from ..budget import charge
from .database import Database, Params, Row
from .http_client import MAX_METADATA_BYTES, Download, Guard, HttpClient, HttpResponse
from .kv import KVStore
from .objects import ObjectInfo, ObjectStore, StoredObject


class MeteredDatabase:
    def __init__(self, inner: Database) -> None:
        self.inner = inner
        self.dialect = inner.dialect

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        charge("services")
        return await self.inner.fetch_all(sql, params)

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        charge("services")
        return await self.inner.fetch_one(sql, params)

    async def fetch_many(self, queries: Sequence[tuple[str, Params]]) -> list[list[Row]]:
        charge("services")
        return await self.inner.fetch_many(queries)

    async def execute(self, sql: str, params: Params = ()) -> int:
        charge("services")
        return await self.inner.execute(sql, params)

    async def batch(self, statements: Sequence[tuple[str, Params]]) -> None:
        if statements:
            charge("services")
        await self.inner.batch(statements)

    async def execute_script(self, sql: str) -> None:
        charge("services")
        await self.inner.execute_script(sql)

    async def close(self) -> None:
        await self.inner.close()


class MeteredKV:
    def __init__(self, inner: KVStore) -> None:
        self.inner = inner

    async def get(self, key: str) -> bytes | None:
        charge("services")
        return await self.inner.get(key)

    async def get_with_metadata(self, key: str) -> tuple[bytes, dict[str, str]] | None:
        charge("services")
        return await self.inner.get_with_metadata(key)

    async def put(
        self, key: str, value: bytes, *, ttl: int | None = None, metadata: dict[str, str] | None = None
    ) -> None:
        charge("services")
        await self.inner.put(key, value, ttl=ttl, metadata=metadata)

    async def delete(self, key: str) -> None:
        charge("services")
        await self.inner.delete(key)


class MeteredObjects:
    def __init__(self, inner: ObjectStore) -> None:
        self.inner = inner

    async def put(self, key: str, data: BinaryIO, *, size: int, metadata: dict[str, str]) -> None:
        charge("services")
        await self.inner.put(key, data, size=size, metadata=metadata)

    async def get(self, key: str) -> StoredObject | None:
        charge("services")
        return await self.inner.get(key)

    async def head(self, key: str) -> ObjectInfo | None:
        charge("services")
        return await self.inner.head(key)

    async def delete(self, key: str) -> None:
        charge("services")
        await self.inner.delete(key)


class MeteredHttp:
    def __init__(self, inner: HttpClient) -> None:
        self.inner = inner

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        timeout: float = 30.0,
        max_bytes: int = MAX_METADATA_BYTES,
        guard: Guard | None = None,
    ) -> HttpResponse:
        charge("fetch")
        return await self.inner.request(
            method, url, headers=headers, body=body, timeout=timeout, max_bytes=max_bytes, guard=guard
        )

    async def download(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float = 120.0,
        max_bytes: int,
        guard: Guard | None = None,
    ) -> Download:
        charge("fetch")
        return await self.inner.download(url, headers=headers, timeout=timeout, max_bytes=max_bytes, guard=guard)


def unwrap(port: Any) -> Any:
    """The runtime's own adapter behind a metered one (for runtime-specific checks and tests)."""
    return getattr(port, "inner", port)
