"""HashlibKdf: PBKDF2-HMAC-SHA256 from OpenSSL (hashlib), run in a thread so a login never blocks the loop."""

from __future__ import annotations

import asyncio
import hashlib


class HashlibKdf:
    async def pbkdf2_sha256(self, password: bytes, salt: bytes, iterations: int, length: int) -> bytes:
        # OpenSSL releases the GIL while it derives: other requests keep being served during a login.
        return await asyncio.to_thread(hashlib.pbkdf2_hmac, "sha256", password, salt, iterations, length)
