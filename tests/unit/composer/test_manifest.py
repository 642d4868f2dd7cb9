"""composer.json parsing and the version objects served in p2 files, as Composer reads them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from package_broker.composer.manifest import (
    MAX_MANIFEST_BYTES,
    encode_version,
    iso_time,
    parse_manifest,
    version_object,
)
from package_broker.errors import InvalidConstraint, InvalidManifest


def served(manifest: dict[str, Any], version: str = "1.0.0", time: int | None = 0) -> dict[str, Any]:
    return version_object(
        parse_manifest(json.dumps({"name": "acme/lib", **manifest}).encode()),
        name="acme/lib",
        version=version,
        version_normalized="1.0.0.0",
        reference="a" * 40,
        dist_path="/dists/acme/lib/" + "a" * 40 + ".zip",
        shasum="b" * 40,
        time=time,
    )


def test_a_valid_manifest_is_parsed() -> None:
    manifest = parse_manifest(b'{"name": "acme/lib", "require": []}')
    assert manifest == {"name": "acme/lib", "require": []}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"name": "acme/lib",', "not valid JSON: .* at line 1"),
        (b"[]", "empty object"),
        (b"{}", "empty object"),
        (b'"acme/lib"', "must contain a JSON object"),
        (b" \n\t", "empty"),
        (b"0", "empty"),
        (b"\xff\xfe", "not UTF-8"),
        (b" " * (MAX_MANIFEST_BYTES + 1), "larger than"),
        # What json_decode refuses although Python's json.loads reads it:
        (b'\xef\xbb\xbf{"name": "acme/lib"}', "byte order mark"),
        (b'{"name": "acme/lib", "description": "\\ud800"}', "half a UTF-16 surrogate pair"),
        (b'{"name": "acme/lib", "extra": {"x": NaN}}', "NaN is not a JSON value"),
        (b'{"name": "acme/lib", "extra": ' + b"[" * 600 + b"]" * 600 + b"}", "more than 511 levels"),
        (b'{"name": "acme/lib", "extra": ' + b"[" * 5000 + b"]" * 5000 + b"}", "more than 511 levels"),
    ],
)
def test_what_composer_cannot_read_is_explained(raw: bytes, message: str) -> None:
    with pytest.raises(InvalidManifest, match=message):
        parse_manifest(raw)


def test_a_json_list_is_a_php_array() -> None:
    assert parse_manifest(b'["a", "b"]') == {"0": "a", "1": "b"}


def test_numbers_are_read_as_php_reads_them() -> None:
    manifest = parse_manifest(
        b'{"a": 9223372036854775807, "b": 9223372036854775808, "c": 1.0, "d": ' + b"9" * 5000 + b"}"
    )
    assert manifest["a"] == 2**63 - 1 and type(manifest["a"]) is int
    assert type(manifest["b"]) is float and type(manifest["c"]) is float
    assert manifest["d"] == float("inf")


def test_a_number_php_reads_as_infinity_cannot_be_served() -> None:
    with pytest.raises(InvalidManifest, match="too large"):
        encode_version(served({"extra": {"big": 1}}) | {"extra": {"big": float("inf")}})


def test_version_object_keeps_dependency_fields_and_drops_root_only_ones() -> None:
    obj = served(
        {
            "name": "other/name",
            "description": "Lib",
            "require": {"php": ">=8.1"},
            "autoload": {"psr-4": {"Acme\\": "src/"}},
            "extra": {"branch-alias": {"dev-main": "1.1.x-dev"}},
            "scripts": {"post-install-cmd": "rm -rf /"},
            "config": {"secure-http": False},
            "repositories": [{"type": "vcs", "url": "https://x"}],
            "homepage": "",
            "default-branch": True,
        }
    )
    assert obj["name"] == "acme/lib"
    assert obj["extra"] == {"branch-alias": {"dev-main": "1.1.x-dev"}}
    assert obj["dist"] == {
        "type": "zip",
        "url": "/dists/acme/lib/" + "a" * 40 + ".zip",
        "reference": "a" * 40,
        "shasum": "b" * 40,
    }
    assert obj["time"] == "1970-01-01T00:00:00+00:00"
    for dropped in ("scripts", "config", "repositories", "homepage", "default-branch"):
        assert dropped not in obj


def test_a_constraint_composer_cannot_parse_refuses_the_version() -> None:
    """Finding 1: Composer's VCS repository skips such a tag; served, it made the whole package unloadable."""
    with pytest.raises(InvalidConstraint, match="Could not parse version constraint <<2.0: Invalid version string"):
        served({"require": {"acme/dep": ">=1.0 <<2.0"}})
    with pytest.raises(InvalidConstraint, match='Invalid operator "~>"'):
        served({"require-dev": {"acme/dep": "~>1.0"}})


def test_keys_php_keeps_as_strings_are_fine() -> None:
    assert served({"require": {"00": "*", "-0": "*", "1.0": "*"}})["require"] == {"00": "*", "-0": "*", "1.0": "*"}


def test_links_composer_ignores_are_dropped() -> None:
    obj = served({"require": {"php": ">=8.1", "acme/x": ["1.0"], "acme/y": None}, "conflict": "acme/z", "replace": []})
    assert obj["require"] == {"php": ">=8.1"}
    assert "conflict" not in obj and "replace" not in obj


def test_self_version_is_parsed_as_the_version_itself() -> None:
    assert served({"replace": {"acme/old": "self.version"}}, version="v2.0")["replace"] == {"acme/old": "self.version"}


def test_suggest_is_not_parsed_as_constraints() -> None:
    assert served({"suggest": {"ext-intl": "for <<translations>>", "bad": 1}})["suggest"] == {
        "ext-intl": "for <<translations>>"
    }


def test_type_and_abandoned_are_served_as_written() -> None:
    obj = served({"type": "", "abandoned": ""})
    assert obj["type"] == "" and obj["abandoned"] == ""
    assert "type" not in served({})


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        ({"require": ["^1.0"]}, 'links to "0", which is not a package name'),
        ({"conflict": {"-12": "*"}}, 'links to "-12"'),
        ({"autoload": "src/"}, '"autoload" must be an object'),
        ({"support": True}, '"support" must be an object'),
        ({"type": 3}, '"type" must be a string'),
        ({"bin": ["ok", 1]}, '"bin" must be a path'),
        ({"time": 1700000000}, '"time" must be a string'),
    ],
)
def test_fields_that_would_crash_composer_refuse_the_version(manifest: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidManifest, match=message):
        served(manifest)


@pytest.mark.parametrize("value", ["", "0", None])
def test_an_empty_time_means_the_commit_time(value: str | None) -> None:
    assert served({"time": value}, time=1_700_000_000)["time"] == "2023-11-14T22:13:20+00:00"


def test_a_time_from_composer_json_is_served_as_written() -> None:
    assert served({"time": "2020-01-02 03:04:05"})["time"] == "2020-01-02 03:04:05"


def test_iso_time_is_utc_with_offset() -> None:
    assert iso_time(1_700_000_000) == "2023-11-14T22:13:20+00:00"
