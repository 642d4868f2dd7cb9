"""Git tag and branch names as versions, following Composer's VCS repository (`VcsRepository::initialize`).

A tag is a version if VersionParser can normalise it (after dropping `release-`), and composer.json's
`version`, when given, must normalise to the same thing. A branch is a version if its normalised name
survives Composer's constraint parser, which is how Composer refuses names such as `a||b`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import InvalidConstraint, InvalidVersion
from .constraints import parse_constraints
from .php import to_string
from .versions import DEFAULT_BRANCH_ALIAS, normalize, normalize_branch

_DEV_SUFFIX = re.compile(r"[.-]?dev$", re.IGNORECASE | re.ASCII)
_DEV_MARK = re.compile(r"(^dev-|[.-]?dev$)", re.IGNORECASE | re.ASCII)
_NINES = re.compile(r"(\.9{7})+")


@dataclass(frozen=True, slots=True)
class RefVersion:
    """The version Composer gives a git ref: `version` as shown to users, `normalized` for comparisons."""

    version: str
    normalized: str


def tag_version(tag: str, manifest_version: object = None) -> RefVersion:
    """Return the version of a git tag.

    `manifest_version` is composer.json's `version` as decoded: Composer casts a number or boolean to a
    string the way PHP does (`1.0` becomes "1").

    Raises:
        InvalidVersion: the tag is not a version, or composer.json's version disagrees with it.
    """
    tag = tag.replace("release-", "")
    try:
        parsed = normalize(tag)
    except InvalidVersion:
        raise InvalidVersion(f'tag "{tag}" is not a valid version name') from None
    if manifest_version is not None:
        try:
            version = to_string(manifest_version)
        except TypeError:
            raise InvalidVersion('composer.json: "version" must be a string') from None
        normalized = normalize(version)
    else:
        version, normalized = tag, parsed
    version = _DEV_SUFFIX.sub("", version)
    normalized = _DEV_MARK.sub("", normalized)
    if normalized != parsed:
        if _DEV_MARK.search(parsed):
            raise InvalidVersion(f'tag "{tag}" uses a dev prefix or suffix, which tags cannot have')
        raise InvalidVersion(f'tag "{tag}" ({parsed}) does not match the version in composer.json ({normalized})')
    return RefVersion(version, normalized)


def branch_version(branch: str) -> RefVersion:
    """Return the version of a git branch: `main` -> `dev-main`, `2.x` -> `2.x-dev`, `v1.0` -> `v1.0.x-dev`.

    Raises:
        InvalidVersion: Composer's constraint parser cannot read the branch's normalised name.
    """
    parsed = normalize_branch(branch)
    try:
        parse_constraints(parsed)
    except InvalidConstraint:
        raise InvalidVersion(f'branch "{branch}" cannot be used as a Composer version') from None
    if parsed.startswith("dev-") or parsed == DEFAULT_BRANCH_ALIAS:
        # Composer 2.7.8+ turns '#' into '+' so the name is not read as "version#reference" (2.5.5 does not).
        return RefVersion("dev-" + branch.replace("#", "+"), parsed.replace("#", "+"))
    prefix = "v" if branch.startswith("v") else ""
    return RefVersion(prefix + _NINES.sub(".x", parsed), parsed)
