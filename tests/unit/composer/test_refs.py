"""Git refs as versions, following Composer's VcsRepository (tag and branch rules on top of VersionParser)."""

from __future__ import annotations

import pytest

from package_broker.composer.refs import branch_version, tag_version
from package_broker.errors import InvalidVersion


@pytest.mark.parametrize(
    ("tag", "manifest_version", "version", "normalized"),
    [
        ("v1.0.0", None, "v1.0.0", "1.0.0.0"),
        ("1.2", None, "1.2", "1.2.0.0"),
        ("release-1.2", None, "1.2", "1.2.0.0"),
        ("v2.0.0-RC1", None, "v2.0.0-RC1", "2.0.0.0-RC1"),
        ("1.0.0-p1", None, "1.0.0-p1", "1.0.0.0-patch1"),
        ("v1.0.0", "1.0.0", "1.0.0", "1.0.0.0"),
        # Composer casts a non-string composer.json version the way PHP does.
        ("1.0", 1.0, "1", "1.0.0.0"),
        ("v2", 2, "2", "2.0.0.0"),
        ("1", True, "1", "1.0.0.0"),
    ],
)
def test_tag_versions_follow_composers_vcs_repository(
    tag: str, manifest_version: object, version: str, normalized: str
) -> None:
    result = tag_version(tag, manifest_version)
    assert (result.version, result.normalized) == (version, normalized)


@pytest.mark.parametrize(
    ("tag", "manifest_version", "message"),
    [
        ("v1.0.0", "2.0.0", "does not match the version in composer.json"),
        ("1.0.0-dev", None, "dev prefix or suffix"),
        ("dev-foo", None, "dev prefix or suffix"),
        ("latest", None, "not a valid version name"),
        ("\u0661.0", None, "not a valid version name"),
        ("1.0.0", False, "Invalid version string"),
        ("1.0.0", [1], '"version" must be a string'),
    ],
)
def test_tags_composer_would_skip_are_refused(tag: str, manifest_version: object, message: str) -> None:
    with pytest.raises(InvalidVersion, match=message):
        tag_version(tag, manifest_version)


@pytest.mark.parametrize(
    ("branch", "version", "normalized"),
    [
        ("main", "dev-main", "dev-main"),
        ("master", "dev-master", "dev-master"),
        ("2.x", "2.x-dev", "2.9999999.9999999.9999999-dev"),
        ("1.0", "1.0.x-dev", "1.0.9999999.9999999-dev"),
        ("v1.0", "v1.0.x-dev", "1.0.9999999.9999999-dev"),
        ("feature/login", "dev-feature/login", "dev-feature/login"),
        ("fix#12", "dev-fix+12", "dev-fix+12"),
        ("feature/caf\u00e9", "dev-feature/caf\u00e9", "dev-feature/caf\u00e9"),
        ("\u0661.x", "dev-\u0661.x", "dev-\u0661.x"),
    ],
)
def test_branch_versions_follow_composers_vcs_repository(branch: str, version: str, normalized: str) -> None:
    result = branch_version(branch)
    assert (result.version, result.normalized) == (version, normalized)


@pytest.mark.parametrize("branch", ["with space", "a,b", "a|b", "a||b", "x || y"])
def test_branches_that_break_constraints_are_refused(branch: str) -> None:
    with pytest.raises(InvalidVersion):
        branch_version(branch)
