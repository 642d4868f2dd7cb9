"""ENCRYPTION_KEY_PREVIOUS: it opens what it sealed, never seals, and a wrong key is named, not guessed."""

from __future__ import annotations

import base64

import pytest

from package_broker.config import Settings
from package_broker.crypto.credentials import key_id, seal_json, sealed_key_id, unseal_json
from package_broker.errors import ConfigError
from package_broker.runtimes.server.cipher import CryptographyCipher

CIPHER = CryptographyCipher()
OLD, NEW, OTHER = b"o" * 32, b"n" * 32, b"x" * 32


async def test_the_previous_key_opens_what_it_sealed() -> None:
    sealed = await seal_json(CIPHER, OLD, {"token": "t"})
    assert sealed_key_id(sealed) == key_id(OLD)
    assert await unseal_json(CIPHER, NEW, sealed, OLD) == {"token": "t"}
    assert await unseal_json(CIPHER, NEW, await seal_json(CIPHER, NEW, {"token": "u"}), OLD) == {"token": "u"}
    with pytest.raises(ConfigError, match=f"encrypted with key {key_id(OLD)}"):
        await unseal_json(CIPHER, NEW, sealed)


async def test_a_value_neither_key_opens_names_both_and_says_it_is_kept() -> None:
    sealed = await seal_json(CIPHER, OTHER, {"token": "t"})
    with pytest.raises(ConfigError) as raised:
        await unseal_json(CIPHER, NEW, sealed, OLD)
    assert raised.value.variable == "ENCRYPTION_KEY"
    assert (
        f"cannot be decrypted with ENCRYPTION_KEY ({key_id(NEW)}) or ENCRYPTION_KEY_PREVIOUS ({key_id(OLD)}) "
        "and are kept as they are" in raised.value.problem
    )


async def test_tampering_under_the_previous_key_names_it() -> None:
    sealed = await seal_json(CIPHER, OLD, {"token": "t"})
    flipped = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises(ConfigError, match="failed authentication") as raised:
        await unseal_json(CIPHER, NEW, flipped, OLD)
    assert raised.value.variable == "ENCRYPTION_KEY_PREVIOUS"


def test_the_setting_is_optional_and_checked_like_the_key() -> None:
    new, old = base64.b64encode(NEW).decode(), base64.b64encode(OLD).decode()
    assert Settings.from_mapping({"ENCRYPTION_KEY": new}).previous_key_bytes() is None
    assert (
        Settings.from_mapping({"ENCRYPTION_KEY": new, "ENCRYPTION_KEY_PREVIOUS": f" {old}\n"}).previous_key_bytes()
        == OLD
    )
    with pytest.raises(ConfigError, match="must be base64 of exactly 32 bytes") as raised:
        Settings.from_mapping({"ENCRYPTION_KEY": new, "ENCRYPTION_KEY_PREVIOUS": "c2hvcnQ="})
    assert raised.value.variable == "ENCRYPTION_KEY_PREVIOUS"
    with pytest.raises(ConfigError, match="is not valid base64"):
        Settings.from_mapping({"ENCRYPTION_KEY_PREVIOUS": "%%%"})
    assert old not in repr(Settings.from_mapping({"ENCRYPTION_KEY_PREVIOUS": old}))
