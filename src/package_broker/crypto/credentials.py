"""Upstream credentials at rest: AES-256-GCM under ENCRYPTION_KEY.

A sealed value reads `v1.<key id>.<base64url(nonce | ciphertext | tag)>`. The key id (first 8 hex digits
of SHA-256 of the key) names the key that sealed it, so a rotated key can be told apart from a wrong one
and `package-broker keys rotate` (crypto/rotation.py) knows what is already under ENCRYPTION_KEY.
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


def sealed_key_id(sealed: str) -> str | None:
    """The id of the key that sealed a value, or None if it is not in this format."""
    version, kid, _ = (sealed.split(".", 2) + ["", ""])[:3]
    return kid if version == VERSION and kid else None


async def unseal(cipher: Cipher, key: bytes, sealed: str, previous: bytes | None = None) -> bytes:
    """Decrypt a value made by `seal`, under `key` (ENCRYPTION_KEY) or else `previous` (ENCRYPTION_KEY_PREVIOUS).

    The key id in the value picks the key; AES-GCM's tag then proves it. Nothing here changes the stored value.

    Raises:
        ConfigError: the value was sealed under neither key, or it was tampered with.
    """
    version, kid, payload = (sealed.split(".", 2) + ["", ""])[:3]
    if version != VERSION:
        raise ConfigError("ENCRYPTION_KEY", f"cannot read credentials sealed with format {version!r}")
    for variable, candidate in (("ENCRYPTION_KEY", key), ("ENCRYPTION_KEY_PREVIOUS", previous)):
        if candidate is None or kid != key_id(candidate):
            continue
        try:
            raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
            return await cipher.decrypt(candidate, raw[:12], raw[12:], VERSION.encode())
        except ValueError:
            raise ConfigError(
                variable,
                "stored credentials failed authentication (tampered or wrong key); they cannot be decrypted "
                "and are kept as they are",
            ) from None
    raise ConfigError("ENCRYPTION_KEY", undecryptable(kid, key, previous))


def undecryptable(kid: str, key: bytes, previous: bytes | None) -> str:
    """Why a value sealed under key `kid` opens with neither configured key, and what to do about it."""
    configured = f"ENCRYPTION_KEY ({key_id(key)})"
    if previous is not None:
        configured += f" or ENCRYPTION_KEY_PREVIOUS ({key_id(previous)})"
    return (
        f"stored credentials were encrypted with key {kid}; they cannot be decrypted with {configured} "
        "and are kept as they are: set ENCRYPTION_KEY (or, while rotating, ENCRYPTION_KEY_PREVIOUS) to the key "
        "that was used when the source was added"
    )


async def seal_json(cipher: Cipher, key: bytes, value: dict[str, str]) -> str:
    return await seal(cipher, key, json.dumps(value).encode())


async def unseal_json(cipher: Cipher, key: bytes, sealed: str, previous: bytes | None = None) -> dict[str, str]:
    value: dict[str, str] = json.loads(await unseal(cipher, key, sealed, previous))
    return value
