"""TOTP secrets at rest: sealed like upstream credentials (AES-256-GCM under ENCRYPTION_KEY, crypto/credentials.py).

A secret is what lets anyone make a user's codes, so the database holds `v1.<key id>.<...>` and the broker
opens it only to check a code. Rows written before secrets were sealed hold the base32 secret in clear (no
`v1.` prefix): those are still accepted, so nobody is locked out, and `package-broker keys rotate` seals them
(crypto/rotation.py, `USERS`). Nothing here puts a secret in a message: errors say what is wrong, never what
was stored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..crypto.credentials import seal, sealed_key_id, unseal
from ..errors import ConfigError
from . import totp

if TYPE_CHECKING:
    from ..config import Settings
    from ..ports.cipher import Cipher


class TotpSecrets:
    """Seals new TOTP secrets and opens stored ones with the runtime's Cipher port (`cryptography` on the
    server, WebCrypto on Workers). The keys are read when needed: a legacy clear secret opens without one."""

    def __init__(self, cipher: Cipher | None, settings: Settings) -> None:
        self._cipher = cipher
        self._settings = settings

    def cipher(self) -> Cipher:
        if self._cipher is None:
            raise ConfigError("ENCRYPTION_KEY", "this runtime has no AES-GCM implementation")
        return self._cipher

    async def seal(self, secret: str) -> str:
        """The stored form of a new secret, sealed under ENCRYPTION_KEY."""
        return await seal(self.cipher(), self._settings.key_bytes(), secret.encode("ascii"))

    async def open(self, stored: str) -> str:
        """The base32 secret behind a stored value: sealed (under ENCRYPTION_KEY or ENCRYPTION_KEY_PREVIOUS), or
        a legacy clear secret as rows from before sealing hold (kept until `keys rotate` seals it).

        Raises:
            ConfigError: sealed under neither key, tampered with, or not a secret at all.
        """
        if sealed_key_id(stored) is None:
            if totp.is_secret(stored):
                return stored
            raise ConfigError("ENCRYPTION_KEY", "the stored TOTP secret is neither sealed nor a TOTP secret")
        settings = self._settings
        opened = await unseal(self.cipher(), settings.key_bytes(), stored, settings.previous_key_bytes())
        secret = opened.decode("ascii", errors="replace")
        if not totp.is_secret(secret):
            raise ConfigError("ENCRYPTION_KEY", "the stored TOTP secret opens, but to something else than a secret")
        return secret
