"""Configuration from the environment: every mistake names its variable and the fix."""

from __future__ import annotations

import base64

import pytest

from package_broker.config import Secret, Settings
from package_broker.errors import ConfigError
from package_broker.runtimes.server.settings import ServerSettings

GOOD_KEY = base64.b64encode(b"k" * 32).decode()


def test_defaults_are_the_embedded_setup() -> None:
    server = ServerSettings.from_mapping({})
    assert (server.db_driver, server.storage_driver, server.cache_driver, server.port) == (
        "sqlite",
        "filesystem",
        "sqlite",
        8080,
    )
    assert server.db_url == "./package-broker-data/package-broker.sqlite"
    assert server.storage_path == "./package-broker-data/artifacts"


def test_a_valid_key_is_accepted_and_never_shown() -> None:
    settings = Settings.from_mapping({"ENCRYPTION_KEY": GOOD_KEY})
    assert settings.key_bytes() == b"k" * 32
    assert GOOD_KEY not in repr(settings) and GOOD_KEY not in str(settings.encryption_key)
    assert repr(Secret("x")) == "Secret('**********')"


@pytest.mark.parametrize(
    ("env", "variable", "hint"),
    [
        (
            {"ENCRYPTION_KEY": base64.b64encode(b"short").decode()},
            "ENCRYPTION_KEY",
            "exactly 32 bytes, but decodes to 5",
        ),
        ({"ENCRYPTION_KEY": "not base64!!"}, "ENCRYPTION_KEY", "not valid base64"),
        ({"BASE_URL": "composer.example.com"}, "BASE_URL", "absolute http"),
        ({"BASE_URL": "https://user:pw@x.test"}, "BASE_URL", "credentials"),
        ({"MAX_UPLOAD_BYTES": "lots"}, "MAX_UPLOAD_BYTES", "whole number"),
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL", "debug, info"),
    ],
)
def test_bad_core_settings_name_the_variable(env: dict[str, str], variable: str, hint: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_mapping(env)
    assert caught.value.variable == variable and hint in caught.value.problem


@pytest.mark.parametrize(
    ("env", "variable", "hint"),
    [
        ({"DB_DRIVER": "oracle"}, "DB_DRIVER", "use one of"),
        ({"STORAGE_DRIVER": "ftp"}, "STORAGE_DRIVER", "use one of"),
        ({"CACHE_DRIVER": "memcached"}, "CACHE_DRIVER", "use one of"),
        ({"PORT": "eighty"}, "PORT", "whole number"),
        ({"PORT": "70000"}, "PORT", "at most 65535"),
        ({"DB_URL": "mysql://x"}, "DB_URL", "file path"),
    ],
)
def test_bad_server_settings_name_the_variable(env: dict[str, str], variable: str, hint: str) -> None:
    with pytest.raises(ConfigError) as caught:
        ServerSettings.from_mapping(env)
    assert caught.value.variable == variable and hint in caught.value.problem


def test_base_url_is_normalised() -> None:
    assert Settings.from_mapping({"BASE_URL": "https://c.example.com/repo/"}).base_url == "https://c.example.com/repo"


def test_driver_aliases() -> None:
    assert ServerSettings.from_mapping({"STORAGE_DRIVER": "fs"}).storage_driver == "filesystem"
