"""PBKDF2-HMAC-SHA256 as a port: OpenSSL through hashlib on the server (in a thread), WebCrypto on Workers.

Pyodide's hashlib has no `pbkdf2_hmac` (CPython provides it only when built with OpenSSL, and Pyodide's
OpenSSL is an optional package), and a pure-Python PBKDF2 would cost seconds of CPU per login at the edge;
WebCrypto's `deriveBits` runs natively. Both give the bytes RFC 8018 defines, so a hash made on one runtime
verifies on the other (within Cloudflare's cap of 100,000 iterations per call, see accounts/passwords.py).
"""

from __future__ import annotations

from typing import Protocol


class Kdf(Protocol):
    async def pbkdf2_sha256(self, password: bytes, salt: bytes, iterations: int, length: int) -> bytes:
        """Return `length` bytes of PBKDF2-HMAC-SHA256 (RFC 8018) of `password` and `salt`.

        Raises:
            ValueError: the runtime refuses these parameters (Workers: more than 100,000 iterations).
        """
        ...
