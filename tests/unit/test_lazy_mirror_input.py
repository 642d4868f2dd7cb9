"""What a lazy mirror keeps of hostile upstream answers: p2 files (sources/lazy_mirror.py) and advisories
(advisories/store.py, advisories/upstream.py)."""

from __future__ import annotations

import json

import pytest

from package_broker.advisories.store import clean
from package_broker.catalog.mirror import decide
from package_broker.errors import SourceError
from package_broker.sources.lazy_mirror import dist_reference, served_versions


def p2(*versions: dict[str, object], name: str = "up/lib") -> bytes:
    return json.dumps({"packages": {name: list(versions)}}).encode()


def dist(url: str = "https://example.com/up/lib/1.zip", shasum: str = "") -> dict[str, object]:
    return {"type": "zip", "url": url, "reference": "abc", "shasum": shasum}


def test_only_installable_versions_with_a_zip_over_http_are_kept_and_their_dists_point_at_the_broker() -> None:
    body = p2(
        {"name": "up/lib", "version": "1.0.0", "dist": dist(shasum="AB" * 20), "notification-url": "https://x/"},
        {"name": "up/lib", "version": "not a version", "dist": dist()},
        {"name": "up/lib", "version": "1.1.0", "dist": {"type": "tar", "url": "https://example.com/x.tar"}},
        {"name": "up/lib", "version": "1.2.0", "dist": dist("file:///etc/passwd")},
        {"name": "up/other", "version": "1.3.0", "dist": dist()},
        {"name": "up/lib", "version": "1.4.0", "require": {"psr/log": "not a constraint!!"}, "dist": dist()},
        "not an object",
    )
    versions, dists = served_versions(body, "up/lib", dev=False)
    assert [v["version"] for v in versions] == ["1.0.0"]
    reference = dist_reference("https://example.com/up/lib/1.zip")
    assert versions[0]["dist"] == {
        "type": "zip",
        "url": f"/dists/up/lib/{reference}.zip",
        "reference": "abc",
        "shasum": "ab" * 20,
    }
    assert "notification-url" not in versions[0]
    assert dists == {reference: ["https://example.com/up/lib/1.zip", "ab" * 20]}


@pytest.mark.parametrize("body", [b"[]", b"{", b'{"packages": 3}', b'{"packages": {"up/lib": 7}}'])
def test_a_file_that_is_not_a_p2_file_is_an_upstream_error(body: bytes) -> None:
    with pytest.raises(SourceError):
        served_versions(body, "up/lib", dev=False)


def test_an_advisory_keeps_only_what_composer_reads_and_needs_an_id_and_affected_versions() -> None:
    assert clean({"advisoryId": "PKSA-1"}, "up/lib") is None
    assert clean({"affectedVersions": "<1"}, "up/lib") is None
    assert clean(["not", "a", "dict"], "up/lib") is None
    kept = clean(
        {
            "advisoryId": "PKSA-1",
            "affectedVersions": "<1",
            "packageName": "other/name",
            "title": "t" * 10_000,
            "evil": {"nested": True},
            "sources": [{"name": "GitHub", "remoteId": "G", "x": 1}, "junk"],
        },
        "up/lib",
    )
    assert kept is not None
    assert kept["packageName"] == "up/lib" and "evil" not in kept and len(kept["title"]) == 4096
    assert kept["sources"] == [{"name": "GitHub", "remoteId": "G"}] and "reportedAt" in kept


def test_the_private_wins_decision() -> None:
    assert not decide("acme/lib", "src_1", False).mirror
    assert "src_1" in decide("acme/lib", "src_1", False).reason
    assert not decide("acme/lib", None, True).mirror
    assert decide("acme/lib", None, False).mirror
