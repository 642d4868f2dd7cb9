"""WorkersKVStore: the KVStore port over a Workers KV namespace binding (values as bytes, small metadata).

Workers KV is eventually consistent and accepts one write per second per key: the core uses it only as a
cache that is checked against the database's generation (package_broker.cache).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pyodide.ffi import JsException, JsProxy

from ...ports.kv import MIN_TTL
from .ffi import failure, from_js_json, is_null, js_object, to_bytes, to_uint8


class WorkersKVStore:
    def __init__(self, binding: JsProxy) -> None:
        self._kv = binding
        self._binary = js_object({"type": "arrayBuffer"})

    async def get(self, key: str) -> bytes | None:
        try:
            value = await self._kv.get(key, self._binary)
        except JsException as exc:
            raise failure("KV read failed", exc) from exc
        return None if is_null(value) else to_bytes(value)

    async def get_with_metadata(self, key: str) -> tuple[bytes, dict[str, str]] | None:
        try:
            result = await self._kv.getWithMetadata(key, self._binary)
        except JsException as exc:
            raise failure("KV read failed", exc) from exc
        if is_null(result.value):
            return None
        return to_bytes(result.value), from_js_json(result.metadata) or {}

    async def put(
        self, key: str, value: bytes, *, ttl: int | None = None, metadata: dict[str, str] | None = None
    ) -> None:
        options: dict[str, Any] = {}
        if ttl is not None:
            options["expirationTtl"] = max(int(ttl), MIN_TTL)
        if metadata:
            options["metadata"] = js_object(metadata)
        try:
            await self._kv.put(key, to_uint8(value), js_object(options))
        except JsException as exc:
            raise failure("KV write failed", exc) from exc

    async def delete(self, key: str) -> None:
        try:
            await self._kv.delete(key)
        except JsException as exc:
            raise failure("KV delete failed", exc) from exc


if TYPE_CHECKING:
    from ...ports.kv import KVStore

    def _implements_port(binding: JsProxy) -> None:
        """Never called: mypy checks here that WorkersKVStore implements the KVStore port."""
        _: KVStore = WorkersKVStore(binding)
