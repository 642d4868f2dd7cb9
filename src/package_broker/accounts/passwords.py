"""Password hashes that verify on both runtimes: `pbkdf2_sha256$<iterations>$<salt b64>$<hash b64>`.

PBKDF2-HMAC-SHA256 (RFC 8018), because it is the one slow KDF both runtimes run natively: OpenSSL on the
server, WebCrypto on Workers (argon2 and scrypt would need native code or seconds of Pyodide CPU per login
there). The iterations are stored with each hash, so PASSWORD_ITERATIONS can change: a hash made with other
iterations still verifies and is re-hashed with the current ones at the next successful login.

Cloudflare's WebCrypto refuses more than 100,000 iterations in one call (ports/kdf.py), so the Worker's
default is that cap; the server's is OWASP's 600,000. A server hash above the cap cannot be verified on a
Worker (users are not moved between runtimes; reset the password there).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from dataclasses import dataclass

from ..errors import InvalidInput
from ..ports.kdf import Kdf

ALGORITHM = "pbkdf2_sha256"
#: OWASP's 2023 recommendation for PBKDF2-HMAC-SHA256 (the server's default).
DEFAULT_ITERATIONS = 600_000
#: The Worker's default and maximum: the most workerd derives in one call.
WORKER_ITERATIONS = 100_000
#: Below this a stored hash is refused as unsafe (and so is a setting).
MIN_ITERATIONS = 1_000
MAX_ITERATIONS = 10_000_000
SALT_BYTES = 16
HASH_BYTES = 32
MIN_LENGTH = 12
#: Bytes (UTF-8): a longer password would only make each login cost more (HMAC hashes long keys first).
MAX_BYTES = 1024
# A fixed salt for the work done for unknown names (the result is never compared with anything stored).
_DUMMY_SALT = b"package-broker-x"


@dataclass(frozen=True, slots=True)
class Verified:
    ok: bool
    #: The hash was made with other iterations than the current setting: store a new one.
    outdated: bool = False


def utf8(text: str) -> bytes:
    """The bytes of a password or secret; lone surrogates (JSON lets a client send them) pass through as
    bytes no real password has, instead of an encoding error."""
    return text.encode("utf-8", "surrogatepass")


def check_policy(password: str) -> None:
    """At least MIN_LENGTH characters, at most MAX_BYTES bytes. Raises InvalidInput saying which."""
    try:
        password.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput("a password must be valid Unicode text") from None
    if len(password) < MIN_LENGTH:
        raise InvalidInput(f"a password needs at least {MIN_LENGTH} characters")
    if len(password.encode("utf-8")) > MAX_BYTES:
        raise InvalidInput(f"a password may be at most {MAX_BYTES} bytes long")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


async def hash_password(kdf: Kdf, password: str, iterations: int) -> str:
    """A new hash of `password` with a random salt (the policy is checked by the caller, `check_policy`)."""
    salt = secrets.token_bytes(SALT_BYTES)
    derived = await kdf.pbkdf2_sha256(utf8(password), salt, iterations, HASH_BYTES)
    return f"{ALGORITHM}${iterations}${_b64(salt)}${_b64(derived)}"


def parse(encoded: str) -> tuple[int, bytes, bytes]:
    """(iterations, salt, hash) of a stored hash. Raises ValueError if it is not one of ours."""
    try:
        algorithm, iterations, salt, derived = encoded.split("$")
        count = int(iterations)
        parsed = count, _unb64(salt), _unb64(derived)
    except (ValueError, binascii.Error):
        raise ValueError("not a pbkdf2_sha256 hash") from None
    if algorithm != ALGORITHM or not MIN_ITERATIONS <= count <= MAX_ITERATIONS or not parsed[2]:
        raise ValueError("not a usable pbkdf2_sha256 hash")
    return parsed


async def verify(kdf: Kdf, password: str, encoded: str | None, iterations: int) -> Verified:
    """Check `password` against a stored hash; `encoded` None (no such user) costs the same work and fails.

    A password too long to be one we stored fails without deriving anything (nothing to learn from timing:
    its length is the caller's own).
    """
    data = utf8(password)
    if len(data) > MAX_BYTES:
        return Verified(False)
    if encoded is None:
        await kdf.pbkdf2_sha256(data, _DUMMY_SALT, iterations, HASH_BYTES)
        return Verified(False)
    count, salt, expected = parse(encoded)
    derived = await kdf.pbkdf2_sha256(data, salt, count, len(expected))
    if not hmac.compare_digest(derived, expected):
        return Verified(False)
    return Verified(True, outdated=count != iterations or len(salt) != SALT_BYTES or len(expected) != HASH_BYTES)
