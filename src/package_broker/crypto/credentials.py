"""Upstream credentials at rest: AES-256-GCM under ENCRYPTION_KEY.

A sealed value reads `v1.<key id>.<base64url(nonce | ciphertext | tag)>`. The key id (first 8 hex digits
of SHA-256 of the key) names the key that sealed it, so a rotated key can be told apart from a wrong one.
The cipher comes from `cryptography` on the server; on Workers, where that package cannot load, a later
adapter provides WebCrypto (see DESIGN.md §5).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets

from ..errors import ConfigError

VERSION = "v1"


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:8]


def _aesgcm(key: bytes):  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(key)


def seal(key: bytes, plaintext: bytes) -> str:
    """Encrypt `plaintext` with a fresh random nonce."""
    nonce = secrets.token_bytes(12)
    box = _aesgcm(key).encrypt(nonce, plaintext, VERSION.encode())
    return f"{VERSION}.{key_id(key)}.{base64.urlsafe_b64encode(nonce + box).decode().rstrip('=')}"


def open_sealed(key: bytes, sealed: str) -> bytes:
    """Decrypt a value made by `seal`.

    Raises:
        ConfigError: the value was sealed under another ENCRYPTION_KEY, or it was tampered with.
    """
    from cryptography.exceptions import InvalidTag

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
        return bytes(_aesgcm(key).decrypt(raw[:12], raw[12:], VERSION.encode()))
    except InvalidTag:
        raise ConfigError(
            "ENCRYPTION_KEY", "stored credentials failed authentication (tampered or wrong key)"
        ) from None


def seal_json(key: bytes, value: dict[str, str]) -> str:
    return seal(key, json.dumps(value).encode())


def open_json(key: bytes, sealed: str) -> dict[str, str]:
    value: dict[str, str] = json.loads(open_sealed(key, sealed))
    return value
