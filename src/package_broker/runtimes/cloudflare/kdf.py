"""WebCryptoKdf: PBKDF2-HMAC-SHA256 through the runtime's `crypto.subtle` (importKey + deriveBits).

Cloudflare's workerd refuses a PBKDF2 call above 100,000 iterations ("NotSupportedError: Pbkdf2 failed:
iteration counts above 100000 are not supported"); Node's WebCrypto, which the offline harness runs, has no
such cap. This adapter enforces the cap itself, so the harness fails where production would.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from js import crypto
from pyodide.ffi import JsException

from .ffi import js_array, js_object, to_bytes, to_uint8

#: The most iterations workerd's WebCrypto derives in one call.
WORKERS_MAX_ITERATIONS = 100_000


class WebCryptoKdf:
    async def pbkdf2_sha256(self, password: bytes, salt: bytes, iterations: int, length: int) -> bytes:
        if iterations > WORKERS_MAX_ITERATIONS:
            raise ValueError(
                f"Workers derive PBKDF2 with at most {WORKERS_MAX_ITERATIONS} iterations, not {iterations}"
            )
        try:
            key = await crypto.subtle.importKey(
                "raw", to_uint8(password), js_object({"name": "PBKDF2"}), False, js_array(["deriveBits"])
            )
            params = js_object({"name": "PBKDF2", "hash": "SHA-256", "salt": to_uint8(salt), "iterations": iterations})
            return to_bytes(await crypto.subtle.deriveBits(params, key, length * 8))
        except JsException as exc:
            raise ValueError(f"PBKDF2 failed: {exc}") from None


if TYPE_CHECKING:
    from ...ports.kdf import Kdf

    def _implements_port() -> None:
        """Never called: mypy checks here that WebCryptoKdf implements the Kdf port."""
        _: Kdf = WebCryptoKdf()
