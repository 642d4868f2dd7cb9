"""composer.json parsing and the version objects served in p2 files."""

from __future__ import annotations

import json

import pytest

from package_broker.composer.manifest import MAX_MANIFEST_BYTES, iso_time, parse_manifest, version_object
from package_broker.errors import InvalidManifest


def test_a_valid_manifest_is_parsed() -> None:
    manifest = parse_manifest(b'\xef\xbb\xbf{"name": "acme/lib", "require": []}')
    assert manifest["name"] == "acme/lib"
    assert manifest["require"] == {}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"name": "acme/lib",', "not valid JSON: .* at line 1"),
        (b"[1, 2]", "must contain a JSON object"),
        (b'{"description": "no name"}', 'needs a "name"'),
        (b'{"name": "Acme/Lib"}', "uppercase"),
        (b'{"name": "../../etc/passwd"}', "vendor name"),
        (b'{"name": "acme/lib", "require": "php"}', '"require" must be an object'),
        (b'{"name": "acme/lib", "require": {"php": 8}}', "must be a string constraint"),
        (b'{"name": "acme/lib", "version": 1}', '"version" must be a string'),
        (b"\xff\xfe", "not UTF-8"),
        (b" " * (MAX_MANIFEST_BYTES + 1), "larger than"),
    ],
)
def test_broken_manifests_are_explained(raw: bytes, message: str) -> None:
    with pytest.raises(InvalidManifest, match=message):
        parse_manifest(raw)


def test_version_object_keeps_dependency_fields_and_drops_root_only_ones() -> None:
    manifest = parse_manifest(
        json.dumps(
            {
                "name": "acme/lib",
                "description": "Lib",
                "require": {"php": ">=8.1"},
                "autoload": {"psr-4": {"Acme\\": "src/"}},
                "extra": {"branch-alias": {"dev-main": "1.1.x-dev"}},
                "scripts": {"post-install-cmd": "rm -rf /"},
                "config": {"secure-http": False},
                "repositories": [{"type": "vcs", "url": "https://x"}],
                "homepage": "",
            }
        ).encode()
    )
    obj = version_object(
        manifest,
        version="dev-main",
        version_normalized="dev-main",
        reference="a" * 40,
        dist_path="/dists/acme/lib/" + "a" * 40 + ".zip",
        shasum="b" * 40,
        time=0,
        default_branch=True,
    )
    assert obj["extra"] == {"branch-alias": {"dev-main": "1.1.x-dev"}}
    assert obj["dist"] == {
        "type": "zip",
        "url": "/dists/acme/lib/" + "a" * 40 + ".zip",
        "reference": "a" * 40,
        "shasum": "b" * 40,
    }
    assert obj["time"] == "1970-01-01T00:00:00+00:00"
    assert obj["default-branch"] is True
    for dropped in ("scripts", "config", "repositories", "homepage"):
        assert dropped not in obj


def test_iso_time_is_utc_with_offset() -> None:
    assert iso_time(1_700_000_000) == "2023-11-14T22:13:20+00:00"
