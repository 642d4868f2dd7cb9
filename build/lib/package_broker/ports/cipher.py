"""AES-256-GCM as a port: `cryptography` on the server, WebCrypto on Workers (where `cryptography`, a
native package, cannot load). The sealed-value format around it lives in package_broker.crypto.
"""

from __future__ import annotations

from typing import Protocol


class Cipher(Protocol):
    async def encrypt(self, key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        """Return ciphertext with the 16-byte tag appended (as `cryptography` and WebCrypto both do)."""
        ...

    async def decrypt(self, key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
        """Return the plaintext.

        Raises:
            ValueError: the tag does not verify (wrong key, wrong data, tampering).
        """
        ...
