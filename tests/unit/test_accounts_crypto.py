"""Password hashes, TOTP codes and recovery codes: published test vectors and the properties logins rely on."""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qs, urlsplit

import pytest

from package_broker.accounts import passwords, recovery, totp
from package_broker.errors import InvalidInput
from package_broker.runtimes.server.kdf import HashlibKdf


class CountingKdf:
    """The real KDF, counting the derivations it made (to show that unknown names cost the same work)."""

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.real = HashlibKdf()

    async def pbkdf2_sha256(self, password: bytes, salt: bytes, iterations: int, length: int) -> bytes:
        self.calls.append(iterations)
        return await self.real.pbkdf2_sha256(password, salt, iterations, length)


# RFC 7914 section 11: PBKDF2-HMAC-SHA256 test vectors.
@pytest.mark.parametrize(
    ("password", "salt", "iterations", "expected"),
    [
        (
            b"passwd",
            b"salt",
            1,
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
            "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783",
        ),
        (
            b"Password",
            b"NaCl",
            80000,
            "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56"
            "a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d",
        ),
    ],
)
async def test_server_kdf_matches_rfc_7914_vectors(
    password: bytes, salt: bytes, iterations: int, expected: str
) -> None:
    assert (await HashlibKdf().pbkdf2_sha256(password, salt, iterations, 64)).hex() == expected


async def test_a_hash_names_its_parameters_and_verifies_only_its_password() -> None:
    kdf = HashlibKdf()
    encoded = await passwords.hash_password(kdf, "correct horse battery", 20_000)
    algorithm, iterations, salt, derived = encoded.split("$")
    assert (algorithm, iterations) == ("pbkdf2_sha256", "20000")
    count, raw_salt, raw_hash = passwords.parse(encoded)
    assert (count, len(raw_salt), len(raw_hash)) == (20_000, 16, 32)
    assert raw_hash == hashlib.pbkdf2_hmac("sha256", b"correct horse battery", raw_salt, 20_000, 32)
    assert await passwords.verify(kdf, "correct horse battery", encoded, 20_000) == passwords.Verified(True)
    assert not (await passwords.verify(kdf, "correct horse batterY", encoded, 20_000)).ok
    # Same password, new salt: a different hash.
    assert await passwords.hash_password(kdf, "correct horse battery", 20_000) != encoded


async def test_a_hash_with_other_iterations_verifies_and_is_marked_for_rehashing() -> None:
    kdf = HashlibKdf()
    old = await passwords.hash_password(kdf, "correct horse battery", 10_000)
    assert await passwords.verify(kdf, "correct horse battery", old, 20_000) == passwords.Verified(True, outdated=True)


async def test_unknown_names_cost_the_same_derivation_and_fail() -> None:
    kdf = CountingKdf()
    assert not (await passwords.verify(kdf, "correct horse battery", None, 30_000)).ok
    assert kdf.calls == [30_000]


async def test_an_overlong_password_fails_without_any_derivation() -> None:
    kdf = CountingKdf()
    encoded = await passwords.hash_password(kdf, "x" * 1024, 10_000)
    kdf.calls.clear()
    assert not (await passwords.verify(kdf, "x" * 1025, encoded, 10_000)).ok
    assert kdf.calls == []


@pytest.mark.parametrize(
    "encoded",
    [
        "",
        "md5$1$abc$def",
        "pbkdf2_sha256$1$AAAAAAAAAAAAAAAAAAAAAA$AAAA",  # too few iterations to be ours
        "pbkdf2_sha256$x$AAAA$AAAA",
        "pbkdf2_sha256$10000$!!$AAAA",
        "pbkdf2_sha256$10000$AAAA$",
    ],
)
def test_foreign_or_broken_hashes_are_refused(encoded: str) -> None:
    with pytest.raises(ValueError):
        passwords.parse(encoded)


@pytest.mark.parametrize(
    ("password", "ok"), [("a" * 11, False), ("a" * 12, True), ("é" * 512, True), ("é" * 513, False)]
)
def test_password_policy_counts_characters_and_bytes(password: str, ok: bool) -> None:
    if ok:
        passwords.check_policy(password)
    else:
        with pytest.raises(InvalidInput):
            passwords.check_policy(password)


# RFC 6238 appendix B (SHA-1, secret "12345678901234567890"): the 8-digit codes' last six digits.
RFC_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


@pytest.mark.parametrize(
    ("unix", "code"),
    [(59, "287082"), (1111111109, "081804"), (1111111111, "050471"), (1234567890, "005924"), (2000000000, "279037")],
)
def test_totp_matches_rfc_6238_vectors(unix: int, code: str) -> None:
    assert totp.code_at(RFC_SECRET, unix // 30) == code
    assert totp.matching_step(RFC_SECRET, code, unix, None) == unix // 30


def test_totp_accepts_one_step_of_drift_and_no_more() -> None:
    now = 1234567890
    step = now // 30
    for offset, accepted in [(-2, False), (-1, True), (0, True), (1, True), (2, False)]:
        code = totp.code_at(RFC_SECRET, step + offset)
        assert (totp.matching_step(RFC_SECRET, code, now, None) == step + offset) is accepted, offset


def test_a_used_step_is_never_accepted_again() -> None:
    now = 1234567890
    code = totp.code_at(RFC_SECRET, now // 30)
    step = totp.matching_step(RFC_SECRET, code, now, None)
    assert step is not None
    assert totp.matching_step(RFC_SECRET, code, now, step) is None
    assert totp.matching_step(RFC_SECRET, code, now + 25, step) is None
    # The next step's code is still fine.
    assert totp.matching_step(RFC_SECRET, totp.code_at(RFC_SECRET, step + 1), now + 30, step) == step + 1


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", "12 34 5"])
def test_malformed_totp_codes_never_match(code: str) -> None:
    assert totp.matching_step(RFC_SECRET, code, 1234567890, None) is None


def test_new_totp_secrets_are_random_160_bit_base32_and_the_uri_names_them() -> None:
    secret = totp.new_secret()
    assert len(secret) == 32 and secret != totp.new_secret()
    uri = urlsplit(totp.otpauth_uri(secret, "alice@example.com"))
    assert (uri.scheme, uri.netloc, uri.path) == ("otpauth", "totp", "/PACKAGE.broker:alice@example.com")
    query = parse_qs(uri.query)
    assert query["secret"] == [secret] and query["issuer"] == ["PACKAGE.broker"]
    assert (query["digits"], query["period"], query["algorithm"]) == (["6"], ["30"], ["SHA1"])


def test_recovery_codes_are_ten_distinct_80_bit_codes_matched_loosely() -> None:
    codes = recovery.generate()
    assert len(codes) == 10 and len(set(codes)) == 10
    for code in codes:
        assert len(code) == 19 and code.count("-") == 3
        assert len(recovery.normalise(code)) == 16
    code = codes[0]
    assert recovery.hash_code(code) == recovery.hash_code(" " + code.upper().replace("-", " ") + " ")
    assert recovery.hash_code(code) != recovery.hash_code(codes[1])
    assert code not in recovery.hash_code(code)
