"""Building p2 and packages.json documents."""

from __future__ import annotations

import gzip
import json

from package_broker.catalog.store import VersionRow
from package_broker.composer.documents import make_document, p2_body, root_body
from package_broker.composer.minifier import expand


def row(version: str, normalized: str, *, dev: bool = False, **extra: object) -> VersionRow:
    data = {
        "name": "acme/lib",
        "version": version,
        "version_normalized": normalized,
        "require": {"php": ">=8.1"},
        "dist": {"type": "zip", "url": f"/dists/acme/lib/{'a' * 40}.zip", "reference": "a" * 40, "shasum": "b" * 40},
        **extra,
    }
    return VersionRow(normalized, version, dev, "a" * 40, json.dumps(data))


ROWS = [
    row("1.0.0", "1.0.0.0"),
    row("v1.10.0", "1.10.0.0"),
    row("1.2.0-RC1", "1.2.0.0-RC1"),
    row("1.2.0", "1.2.0.0"),
    row("1.2.0-p1", "1.2.0.0-patch1"),
    row("dev-feature", "dev-feature", dev=True),
    row("dev-main", "dev-main", dev=True, **{"default-branch": True}),
    row("2.x-dev", "2.9999999.9999999.9999999-dev", dev=True),
]


def versions_of(body: bytes, dev: bool = False) -> list[dict[str, object]]:
    document = json.loads(body)
    assert document["minified"] == "composer/2.0"
    return expand(document["packages"]["acme/lib"])


def test_tags_file_has_only_tags_newest_first() -> None:
    versions = versions_of(p2_body("acme/lib", ROWS, dev=False, base_url="https://r.test"))
    assert [v["version"] for v in versions] == ["v1.10.0", "1.2.0-p1", "1.2.0", "1.2.0-RC1", "1.0.0"]


def test_dev_file_has_only_branches_default_branch_first() -> None:
    versions = versions_of(p2_body("acme/lib", ROWS, dev=True, base_url="https://r.test"), dev=True)
    assert [v["version"] for v in versions] == ["dev-main", "2.x-dev", "dev-feature"]


def test_dist_urls_are_absolute_under_the_base_url() -> None:
    versions = versions_of(p2_body("acme/lib", ROWS, dev=False, base_url="https://r.test/composer"))
    assert versions[0]["dist"]["url"] == f"https://r.test/composer/dists/acme/lib/{'a' * 40}.zip"  # type: ignore[index]


def test_a_package_without_tags_still_has_a_tags_file() -> None:
    body = p2_body("acme/lib", [r for r in ROWS if r.is_dev], dev=False, base_url="https://r.test")
    assert json.loads(body)["packages"] == {"acme/lib": []}


def test_root_lists_available_packages_and_absolute_urls() -> None:
    root = json.loads(root_body(["acme/a", "acme/b"], "https://r.test/sub"))
    assert root["metadata-url"] == "https://r.test/sub/p2/%package%.json"
    assert root["available-packages"] == ["acme/a", "acme/b"]
    assert root["notify-batch"] == "https://r.test/sub/downloads/"
    assert root["packages"] == {}


def test_documents_carry_identical_gzip_bytes() -> None:
    document = make_document(b'{"a":1}', 1000, "https://r.test")
    assert gzip.decompress(document.gzipped) == document.body
    assert make_document(b'{"a":1}', 1000, "https://r.test").gzipped == document.gzipped
