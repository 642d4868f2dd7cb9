"""Token format, checksum, hashing and the Authorization header parser."""

from __future__ import annotations

import base64

import pytest

from package_broker.access import tokens
from package_broker.access.auth import AuthError, secret_from_header


def test_generated_tokens_are_well_formed_and_unique() -> None:
    made = {tokens.generate() for _ in range(200)}
    assert len(made) == 200
    for token in made:
        assert token.startswith("pkb_") and len(token) == tokens.LENGTH
        assert tokens.is_well_formed(token)


def test_a_typo_breaks_the_checksum() -> None:
    token = tokens.generate()
    flipped = token[:10] + ("A" if token[10] != "A" else "B") + token[11:]
    assert not tokens.is_well_formed(flipped)


@pytest.mark.parametrize("bad", ["", "pkb_", "ghp_" + "a" * 42, "pkb_" + "!" * 42, "pkb_short"])
def test_foreign_or_truncated_strings_are_not_tokens(bad: str) -> None:
    assert not tokens.is_well_formed(bad)


def test_hash_is_sha256_hex_and_stable() -> None:
    # The SHA-256 of "pkb_x" (computed elsewhere): stored hashes must stay readable across releases.
    assert tokens.hash_token("pkb_x") == "29e2fbdc30cb37310bd2fae5b58ffb4b2f30f2d9a28bc804915e07471174d46e"
    assert tokens.hash_token("pkb_y") != tokens.hash_token("pkb_x")


def test_display_prefix_shows_only_a_few_characters() -> None:
    token = tokens.generate()
    assert tokens.display_prefix(token) == token[:8]


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_basic_with_username_token_yields_the_secret() -> None:
    token = tokens.generate()
    assert secret_from_header(_basic("token", token), "r.test") == token


def test_bearer_is_accepted_too() -> None:
    token = tokens.generate()
    assert secret_from_header(f"Bearer {token}", "r.test") == token


@pytest.mark.parametrize(
    ("header", "reason", "hint"),
    [
        (None, "missing", "composer config --global http-basic.r.test token"),
        ("Basic !!!", "malformed", "not valid HTTP Basic"),
        ("Basic " + base64.b64encode(b"no-colon").decode(), "malformed", "not valid HTTP Basic"),
        (_basic("admin", "x"), "malformed", 'must be the word "token"'),
        (_basic("token", "hunter2"), "malformed", "not a PACKAGE.broker token"),
        ("Digest abc", "malformed", "HTTP Basic"),
    ],
)
def test_bad_headers_say_what_to_fix(header: str | None, reason: str, hint: str) -> None:
    with pytest.raises(AuthError) as caught:
        secret_from_header(header, "r.test")
    assert caught.value.reason == reason and caught.value.status == 401
    assert hint in caught.value.warning
    assert "hunter2" not in caught.value.warning
