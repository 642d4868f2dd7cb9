"""TOTP two-factor codes (RFC 6238 over RFC 4226): HMAC-SHA-1, 6 digits, 30-second steps.

What every authenticator app does by default. A code is accepted for its own step and one step either
side (clock drift), and a step once used is never accepted again: the caller stores the last step used
(`users.totp_last_step`) and passes it in, so a code seen over a shoulder cannot be replayed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import struct
from urllib.parse import quote, urlencode

DIGITS = 6
PERIOD = 30
#: Steps accepted either side of the current one.
DRIFT = 1
#: 160-bit secrets, as RFC 4226 recommends for SHA-1.
SECRET_BYTES = 20
ISSUER = "PACKAGE.broker"
_BASE32 = re.compile(r"[A-Z2-7]{16,}")


def new_secret() -> str:
    """A random secret in base32 without padding (what authenticator apps take)."""
    return base64.b32encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii").rstrip("=")


def is_secret(value: str) -> bool:
    """True for a secret as `new_secret` makes them (upper-case base32, no padding): what a row written before
    secrets were sealed holds in clear, and what an opened sealed value must be."""
    if _BASE32.fullmatch(value) is None:
        return False
    try:
        _key(value)
    except ValueError:  # a length base32 cannot have (binascii.Error)
        return False
    return True


def _key(secret: str) -> bytes:
    cleaned = secret.replace(" ", "").upper()
    return base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))


def code_at(secret: str, step: int) -> str:
    """The code for time step `step` (Unix time // PERIOD)."""
    digest = hmac.new(_key(secret), struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**DIGITS).zfill(DIGITS)


def matching_step(secret: str, code: str, now: int, last_step: int | None) -> int | None:
    """The step `code` belongs to (within DRIFT of now, after `last_step`), or None: the caller stores it."""
    code = code.strip().replace(" ", "")
    if len(code) != DIGITS or not (code.isascii() and code.isdigit()):
        return None
    current = now // PERIOD
    found = None
    for step in range(current - DRIFT, current + DRIFT + 1):
        # Every candidate is computed and compared, so the time taken says nothing about which matched.
        if hmac.compare_digest(code_at(secret, step), code) and (last_step is None or step > last_step):
            found = step if found is None else found
    return found


def looks_like_code(code: str) -> bool:
    """True for six digits (spaces allowed): a TOTP code rather than a recovery code."""
    cleaned = code.strip().replace(" ", "")
    return len(cleaned) == DIGITS and cleaned.isascii() and cleaned.isdigit()


def otpauth_uri(secret: str, account: str, issuer: str = ISSUER) -> str:
    """The `otpauth://totp/...` URI an authenticator app reads (from a QR code or typed in)."""
    label = quote(f"{issuer}:{account}", safe=":@")
    query = urlencode({"secret": secret, "issuer": issuer, "algorithm": "SHA1", "digits": DIGITS, "period": PERIOD})
    return f"otpauth://totp/{label}?{query}"
