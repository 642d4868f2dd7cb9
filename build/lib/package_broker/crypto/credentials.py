"""Upstream credentials at rest: AES-256-GCM under ENCRYPTION_KEY.

A sealed value reads `v1.<key id>.<base64url(nonce | ciphertext | tag)>`. The key id (first 8 hex digits
of SHA-256 of the key) names the key that sealed it, so a rotated key can be told apart from a wrong one.
The cipher itself is a port (`cryptography` on the server, WebCrypto on Workers).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets

from ..errors import ConfigError
from ..ports.cipher import Cipher

VERSION = "v1"


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:8]


async def seal(cipher: Cipher, key: bytes, plaintext: bytes) -> str:
    """Encrypt `plaintext` with a fresh random nonce."""
    nonce = secrets.token_bytes(12)
    box = await cipher.encrypt(key, nonce, plaintext, VERSION.encode())
    return f"{VERSION}.{key_id(key)}.{base64.urlsafe_b64encode(nonce + box).decode().rstrip('=')}"


async def unseal(cipher: Cipher, key: bytes, sealed: str) -> bytes:
    """Decrypt a value made by `seal`.

    Raises:
        ConfigError: the value was sealed under another ENCRYPTION_KEY, or it was tampered with.
    """
    version, kid, payload = (sealed.split(".", 2) + ["", ""])[:3]
    if version != VERSION:
        raise ConfigError("ENCRYPTION_KEY", f"cannot read credentials sealed with format {version!r}")
    if kid != key_id(key):
        raise ConfigError(
            "ENCRYPTION_KEY",
            f"stored credentials were encrypted with key {kid}, but the configured key is {key_id(key)}; "
            "set the ENCRYPTION_KEY that was used when the source was added",
        )
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    try:
        return await cipher.decrypt(key, raw[:12], raw[12:], VERSION.encode())
    except ValueError:
        raise ConfigError(
            "ENCRYPTION_KEY", "stored credentials failed authentication (tampered or wrong key)"
        ) from None


async def seal_json(cipher: Cipher, key: bytes, value: dict[str, str]) -> str:
    return await seal(cipher, key, json.dumps(value).encode())


async def unseal_json(cipher: Cipher, key: bytes, sealed: str) -> dict[str, str]:
    value: dict[str, str] = json.loads(await unseal(cipher, key, sealed))
    return value
