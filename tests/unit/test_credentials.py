"""Credentials at rest: the server's AES-256-GCM passes the GCM vectors, and sealed values name their key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from package_broker.crypto.credentials import key_id, seal_json, unseal_json
from package_broker.errors import ConfigError
from package_broker.runtimes.server.cipher import CryptographyCipher

VECTORS = json.loads((Path(__file__).parents[1] / "fixtures" / "aes_gcm_vectors.json").read_text())["vectors"]


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: f"case{v['case']}")
async def test_the_server_cipher_passes_the_gcm_vectors(vector: dict[str, Any]) -> None:
    key, iv, aad, plain = (bytes.fromhex(vector[k]) for k in ("key", "iv", "aad", "plaintext"))
    sealed = await CryptographyCipher().encrypt(key, iv, plain, aad)
    assert sealed.hex() == vector["ciphertext"] + vector["tag"]
    assert await CryptographyCipher().decrypt(key, iv, sealed, aad) == plain


async def test_sealed_credentials_round_trip_and_hide_the_secret() -> None:
    key = bytes(range(32))
    sealed = await seal_json(CryptographyCipher(), key, {"username": "deploy", "password": "s3cr3t"})
    assert sealed.startswith(f"v1.{key_id(key)}.") and "s3cr3t" not in sealed
    assert await unseal_json(CryptographyCipher(), key, sealed) == {"username": "deploy", "password": "s3cr3t"}


async def test_a_different_key_is_named_not_guessed() -> None:
    sealed = await seal_json(CryptographyCipher(), b"a" * 32, {"token": "x"})
    with pytest.raises(ConfigError, match=f"encrypted with key {key_id(b'a' * 32)}"):
        await unseal_json(CryptographyCipher(), b"b" * 32, sealed)


async def test_tampering_is_detected() -> None:
    key = b"k" * 32
    sealed = await seal_json(CryptographyCipher(), key, {"token": "x"})
    flipped = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises(ConfigError, match="failed authentication"):
        await unseal_json(CryptographyCipher(), key, flipped)
