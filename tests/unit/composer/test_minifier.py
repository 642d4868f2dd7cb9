"""The composer/2.0 minified format: our minify must expand back exactly, with Composer's own expander too."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from package_broker.composer.minifier import UNSET, expand, minify
from tests.conftest import require_tool

VERSIONS: list[dict[str, Any]] = [
    {
        "name": "acme/lib",
        "version": "2.0.0",
        "version_normalized": "2.0.0.0",
        "require": {"php": ">=8.2"},
        "autoload": {"psr-4": {"Acme\\Lib\\": "src/"}},
        "license": ["MIT"],
        "dist": {"type": "zip", "url": "https://r.test/a.zip", "reference": "a" * 40, "shasum": "1" * 40},
    },
    {
        "name": "acme/lib",
        "version": "1.1.0",
        "version_normalized": "1.1.0.0",
        "require": {"php": ">=8.1"},
        "autoload": {"psr-4": {"Acme\\Lib\\": "src/"}},
        "license": ["MIT"],
        "suggest": {"ext-intl": "for translations"},
        "dist": {"type": "zip", "url": "https://r.test/b.zip", "reference": "b" * 40, "shasum": "2" * 40},
    },
    {
        "name": "acme/lib",
        "version": "1.0.0",
        "version_normalized": "1.0.0.0",
        "autoload": {"psr-4": {"Acme\\Lib\\": "src/"}},
        "license": ["MIT"],
        "dist": {"type": "zip", "url": "https://r.test/c.zip", "reference": "c" * 40, "shasum": "3" * 40},
    },
]


def test_first_version_is_sent_whole() -> None:
    assert minify(VERSIONS)[0] == VERSIONS[0]


def test_later_versions_carry_only_changed_keys_and_unset_markers() -> None:
    minified = minify(VERSIONS)
    assert "autoload" not in minified[1] and "name" not in minified[1]
    assert minified[1]["require"] == {"php": ">=8.1"}
    assert minified[2]["require"] == UNSET
    assert minified[2]["suggest"] == UNSET


def test_expand_of_minify_is_the_original() -> None:
    assert expand(minify(VERSIONS)) == VERSIONS


def test_a_key_removed_and_added_back_round_trips() -> None:
    versions = [{"version": "3"}, {"version": "2", "bin": ["x"]}, {"version": "1"}, {"version": "0", "bin": ["x"]}]
    assert expand(minify(versions)) == versions


def test_none_values_count_as_absent_like_in_php() -> None:
    assert expand(minify([{"version": "1", "homepage": None}])) == [{"version": "1"}]


def test_empty_list_round_trips() -> None:
    assert minify([]) == [] and expand([]) == []


def test_composers_own_expander_restores_our_minified_versions(tmp_path: Path) -> None:
    php = require_tool("php")
    library = Path("/usr/share/php/Composer/MetadataMinifier/autoload.php")
    if not library.exists():
        pytest.fail("php-composer-metadata-minifier is missing (a dependency of Debian's composer package)")
    script = tmp_path / "expand.php"
    script.write_text(
        "<?php require '" + str(library) + "';\n"
        "$in = json_decode(stream_get_contents(STDIN), true);\n"
        "echo json_encode(Composer\\MetadataMinifier\\MetadataMinifier::expand($in), JSON_UNESCAPED_SLASHES);"
    )
    result = subprocess.run(
        [php, str(script)], input=json.dumps(minify(VERSIONS)), capture_output=True, text=True, check=True
    )
    assert json.loads(result.stdout) == VERSIONS
