"""Recovery codes: ten one-time codes shown once when two-factor is turned on, stored only as hashes.

Each carries 80 random bits (16 base32 characters, shown as four groups of four), so a fast hash (SHA-256)
is enough to store them, as for Composer tokens: no KDF work per attempt, and guessing one online is
hopeless behind the login throttle. A code is spent by deleting its row: the DELETE that finds it is what
makes it valid, so two logins racing with one code cannot both succeed.
"""

from __future__ import annotations

import base64
import hashlib
import secrets

COUNT = 10
_GROUPS = 4
_GROUP = 4


def generate() -> list[str]:
    """COUNT new codes such as `k7qm-3xzt-a2bc-9fgh` (lower-case base32, no padding)."""
    codes = []
    for _ in range(COUNT):
        raw = base64.b32encode(secrets.token_bytes(10)).decode("ascii").lower()  # 16 characters, 80 bits
        codes.append("-".join(raw[i : i + _GROUP] for i in range(0, _GROUPS * _GROUP, _GROUP)))
    return codes


def normalise(code: str) -> str:
    """What people type, reduced to the 16 characters that count (dashes, spaces and case ignored)."""
    return "".join(c for c in code.lower() if c.isascii() and c.isalnum())


def hash_code(code: str) -> str:
    return hashlib.sha256(("recovery:" + normalise(code)).encode("utf-8")).hexdigest()
