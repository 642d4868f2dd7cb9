"""The composer/2.0 minified format: our minify must expand back exactly, with Composer's own expander too."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from package_broker.composer.minifier import UNSET, expand, identical, minify
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


#: Values Python's == calls equal and PHP's === does not (finding 3: a later version inherited the earlier type).
TYPED: list[dict[str, Any]] = [
    {"name": "acme/plugin", "version": "3.0.0", "extra": {"plugin-optional": 1}, "n": 1, "f": False},
    {"name": "acme/plugin", "version": "2.0.0", "extra": {"plugin-optional": True}, "n": 1.0, "f": 0},
    {
        "name": "acme/plugin",
        "version": "1.1.0",
        "extra": {"plugin-optional": True},
        "n": 1.0,
        "f": 0,
        "o": {"a": 1, "b": 2},
    },
    {
        "name": "acme/plugin",
        "version": "1.0.0",
        "extra": {"plugin-optional": True},
        "n": True,
        "f": "",
        "o": {"b": 2, "a": 1},
    },
]


def same_versions(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> bool:
    """Identical values key by key; the order of top-level keys is not kept by the format (nor does it matter)."""
    return len(a) == len(b) and all(
        set(x) == set(y) and all(identical(x[k], y[k]) for k in x) for x, y in zip(a, b, strict=True)
    )


def test_values_equal_in_python_but_not_identical_in_php_are_sent() -> None:
    minified = minify(TYPED)
    assert minified[1]["extra"] == {"plugin-optional": True} and minified[1]["n"] == 1.0
    assert "extra" not in minified[2] and "n" not in minified[2]
    assert list(minified[3]["o"]) == ["b", "a"]
    assert same_versions(expand(minified), TYPED)


def test_identical_is_phps_strict_comparison() -> None:
    assert identical({"a": [1, {"b": None}]}, {"a": [1, {"b": None}]})
    assert not identical(True, 1) and not identical(1, 1.0) and not identical(0, False) and not identical("", None)
    assert not identical({"a": 1, "b": 2}, {"b": 2, "a": 1})
    assert not identical([1], [1, 2])
    # Both are PHP arrays: a JSON object and a list with the same keys in the same order are identical.
    assert identical([], {}) and identical(["x"], {"0": "x"}) and not identical(["x"], {"1": "x"})


def test_expand_takes_an_empty_first_version_as_no_version_like_php() -> None:
    assert expand([{}, {"version": "1", "bin": UNSET}]) == [{}, {"version": "1", "bin": UNSET}]


@pytest.mark.parametrize("versions", [VERSIONS, TYPED], ids=["plain", "typed"])
def test_composers_own_minifier_and_expander_agree_with_ours(tmp_path: Path, versions: list[dict[str, Any]]) -> None:
    """PHP's minify gives our diffs, and PHP's expand of our diffs gives the versions back, types and key order
    included (PHP's json_encode keeps both)."""
    php = require_tool("php")
    library = Path("/usr/share/php/Composer/MetadataMinifier/autoload.php")
    if not library.exists():
        pytest.fail("php-composer-metadata-minifier is missing (a dependency of Debian's composer package)")
    script = tmp_path / "minifier.php"
    script.write_text(
        "<?php require '" + str(library) + "';\n"
        "use Composer\\MetadataMinifier\\MetadataMinifier as M;\n"
        "$in = json_decode(stream_get_contents(STDIN), true);\n"
        "$f = JSON_UNESCAPED_SLASHES | JSON_PRESERVE_ZERO_FRACTION;\n"
        "echo json_encode(M::minify($in['versions']), $f), \"\\n\", json_encode(M::expand($in['minified']), $f);"
    )
    payload = json.dumps({"versions": versions, "minified": minify(versions)})
    result = subprocess.run([php, str(script)], input=payload, capture_output=True, text=True, check=True)
    php_minified, php_expanded = (json.loads(line) for line in result.stdout.splitlines())
    assert identical(php_minified, minify(versions))
    assert same_versions(php_expanded, versions)


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
