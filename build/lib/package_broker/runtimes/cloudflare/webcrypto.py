"""WebCryptoCipher: AES-256-GCM through the runtime's `crypto.subtle` (no native Python package needed)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from js import crypto
from pyodide.ffi import JsException, JsProxy

from .ffi import js_array, js_object, to_bytes, to_uint8


class WebCryptoCipher:
    async def _key(self, key: bytes, usage: str) -> JsProxy:
        return await crypto.subtle.importKey(
            "raw", to_uint8(key), js_object({"name": "AES-GCM"}), False, js_array([usage])
        )

    async def encrypt(self, key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        params = js_object(
            {"name": "AES-GCM", "iv": to_uint8(nonce), "additionalData": to_uint8(aad), "tagLength": 128}
        )
        return to_bytes(await crypto.subtle.encrypt(params, await self._key(key, "encrypt"), to_uint8(plaintext)))

    async def decrypt(self, key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
        params = js_object(
            {"name": "AES-GCM", "iv": to_uint8(nonce), "additionalData": to_uint8(aad), "tagLength": 128}
        )
        try:
            return to_bytes(await crypto.subtle.decrypt(params, await self._key(key, "decrypt"), to_uint8(ciphertext)))
        except JsException as exc:  # OperationError: the tag does not verify
            raise ValueError("AES-GCM authentication failed") from exc


if TYPE_CHECKING:
    from ...ports.cipher import Cipher

    def _implements_port() -> None:
        """Never called: mypy checks here that WebCryptoCipher implements the Cipher port."""
        _: Cipher = WebCryptoCipher()
