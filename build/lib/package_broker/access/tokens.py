"""Composer tokens: how they look, how they are checked, how they are stored.

A token is `pkb_` + 36 random base62 characters + a 6-character base62 CRC32 of those, e.g.
`pkb_4Fz...Q1x9aT`. The fixed prefix and the checksum let secret scanners find leaked tokens and let us
reject typos as "malformed" without a database look-up. Only the SHA-256 of a token is stored: tokens
carry 214 bits of randomness, so a fast hash is enough and keeps the per-request cost tiny.
"""

from __future__ import annotations

import hashlib
import secrets
import zlib

PREFIX = "pkb_"
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_RANDOM_LENGTH = 36
_CHECK_LENGTH = 6
LENGTH = len(PREFIX) + _RANDOM_LENGTH + _CHECK_LENGTH

PERMISSIONS = ("readonly", "write")


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, digit = divmod(number, 62)
        digits.append(_ALPHABET[digit])
    return "".join(reversed(digits))


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode("ascii")), _CHECK_LENGTH)


def generate() -> str:
    """Return a new random token. Call at request or command time, never at import (Workers forbid it)."""
    body = "".join(secrets.choice(_ALPHABET) for _ in range(_RANDOM_LENGTH))
    return PREFIX + body + _checksum(body)


def is_well_formed(token: str) -> bool:
    """True if `token` has our prefix, length, alphabet and a matching checksum."""
    if len(token) != LENGTH or not token.startswith(PREFIX):
        return False
    body, check = token[len(PREFIX) : -_CHECK_LENGTH], token[-_CHECK_LENGTH:]
    if any(c not in _ALPHABET for c in body):
        return False
    return secrets.compare_digest(check, _checksum(body))


def hash_token(token: str) -> str:
    """Return the hex SHA-256 under which a token is stored and looked up."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def display_prefix(token: str) -> str:
    """Return the part of a token that is safe to show in lists and logs (`pkb_4Fz9`)."""
    return token[: len(PREFIX) + 4]


def new_token_id() -> str:
    """Return a short public identifier for a token row (not secret, used in logs and the CLI)."""
    return "tok_" + secrets.token_hex(6)
