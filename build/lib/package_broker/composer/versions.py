"""Version strings exactly as Composer reads them.

Composer normalises every version before it compares anything (`composer/semver`'s `VersionParser`) and its
VCS repository turns tag and branch names into versions with a few extra rules (`VcsRepository`). If we
disagreed with either, `composer install` would resolve differently against us than against packagist.
tests/unit/composer/test_versions.py checks a table of cases and, where PHP is installed, cross-checks
the real VersionParser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import InvalidVersion

# Composer's modifier grammar: stability word, optional numbers, optional trailing "dev".
_MODIFIER = r"[._-]?(?:(stable|beta|b|RC|alpha|a|patch|pl|p)((?:[.-]?\d+)*+)?)?([.-]?dev)?"
_STABILITIES = r"stable|RC|beta|alpha|dev"

_ALIAS = re.compile(r"^([^,\s]++) ++as ++([^,\s]++)$")
_STABILITY_FLAG = re.compile(rf"@(?:{_STABILITIES})$", re.IGNORECASE)
_BUILD_METADATA = re.compile(r"^([^,\s+]++)\+[^\s]++$")
_CLASSICAL = re.compile(rf"^v?(\d{{1,5}})(\.\d++)?(\.\d++)?(\.\d++)?{_MODIFIER}$", re.IGNORECASE)
_DATE = re.compile(rf"^v?(\d{{4}}(?:[.:-]?\d{{2}}){{1,6}}(?:[.:-]?\d{{1,3}})?){_MODIFIER}$", re.IGNORECASE)
_DEV_SUFFIX = re.compile(r"(.*?)[.-]?dev$", re.IGNORECASE)
_NUMERIC_BRANCH = re.compile(r"^v?(\d++)(\.(?:\d++|[xX*]))?(\.(?:\d++|[xX*]))?(\.(?:\d++|[xX*]))?$", re.IGNORECASE)
_STABILITY_OF = re.compile(rf"{_MODIFIER}(?:\+.*)?$", re.IGNORECASE)
_PHP_WHITESPACE = " \t\n\r\0\x0b"

#: What Composer calls the default branch when it cannot name a version for it.
DEFAULT_BRANCH_ALIAS = "9999999-dev"

_STABILITY_WORDS = {"a": "alpha", "b": "beta", "p": "patch", "pl": "patch", "rc": "RC"}


def normalize(version: str) -> str:
    """Return Composer's normalised form of `version`, e.g. `v1.2` -> `1.2.0.0`, `1.0-rc1` -> `1.0.0.0-RC1`.

    Raises:
        InvalidVersion: when Composer would throw "Invalid version string".
    """
    original = version = version.strip(_PHP_WHITESPACE)
    if match := _ALIAS.match(version):
        version = match[1]
    if match := _STABILITY_FLAG.search(version):
        version = version[: len(version) - len(match[0])]
    if version in ("master", "trunk", "default"):
        version = "dev-" + version
    if version[:4].lower() == "dev-":
        return "dev-" + version[4:]
    if match := _BUILD_METADATA.match(version):
        version = match[1]

    if match := _CLASSICAL.match(version):
        version = match[1] + (match[2] or ".0") + (match[3] or ".0") + (match[4] or ".0")
        index = 5
    elif match := _DATE.match(version):
        version = re.sub(r"\D", ".", match[1])
        index = 2
    else:
        match = None

    if match is not None:
        stability = match[index]
        if stability:
            if stability == "stable":
                return version
            version += (
                "-"
                + _STABILITY_WORDS.get(stability.lower(), stability.lower())
                + ((match[index + 1] or "").lstrip(".-"))
            )
        if match[index + 2]:
            version += "-dev"
        return version

    if match := _DEV_SUFFIX.match(version):
        normalized = normalize_branch(match[1])
        # A "-dev" suffix is only valid on numeric branches; anything else needed a "dev-" prefix.
        if "dev-" not in normalized:
            return normalized

    raise InvalidVersion(f'Invalid version string "{original}"')


def normalize_branch(name: str) -> str:
    """Return the normalised version of a branch: `2.x` -> `2.9999999.9999999.9999999-dev`, `main` -> `dev-main`."""
    name = name.strip(_PHP_WHITESPACE)
    if match := _NUMERIC_BRANCH.match(name):
        parts = "".join(
            (match[i].replace("*", "x").replace("X", "x") if match[i] is not None else ".x") for i in range(1, 5)
        )
        return parts.replace("x", "9999999") + "-dev"
    return "dev-" + name


def parse_stability(version: str) -> str:
    """Return `dev`, `alpha`, `beta`, `RC` or `stable`, as Composer's VersionParser::parseStability does."""
    version = re.sub(r"#.+$", "", version)
    if version.startswith("dev-") or version.endswith("-dev"):
        return "dev"
    match = _STABILITY_OF.search(version.lower())
    if match is None:  # pragma: no cover - the pattern matches the empty string at the end
        return "stable"
    if match[3]:
        return "dev"
    word = match[1]
    if word in ("beta", "b"):
        return "beta"
    if word in ("alpha", "a"):
        return "alpha"
    if word == "rc":
        return "RC"
    return "stable"


def is_dev(version_normalized: str) -> bool:
    """True for versions that belong in `p2/<name>~dev.json` (branches), false for tagged releases."""
    return parse_stability(version_normalized) == "dev"


@dataclass(frozen=True, slots=True)
class RefVersion:
    """The version Composer gives a git ref: `version` as shown to users, `normalized` for comparisons."""

    version: str
    normalized: str


def tag_version(tag: str, manifest_version: str | None = None) -> RefVersion:
    """Return the version of a git tag, following Composer's VcsRepository.

    A `release-` prefix is dropped, a `-dev` suffix is not allowed, and when composer.json declares a
    `version` it must normalise to the same value as the tag.

    Raises:
        InvalidVersion: the tag is not a version, or composer.json's version disagrees with it.
    """
    tag = tag.replace("release-", "")
    try:
        parsed = normalize(tag)
    except InvalidVersion:
        raise InvalidVersion(f'tag "{tag}" is not a valid version name') from None
    if manifest_version is not None:
        version, normalized = manifest_version, normalize(manifest_version)
    else:
        version, normalized = tag, parsed
    version = re.sub(r"[.-]?dev$", "", version, flags=re.IGNORECASE)
    normalized = re.sub(r"(^dev-|[.-]?dev$)", "", normalized, flags=re.IGNORECASE)
    if normalized != parsed:
        if re.search(r"(^dev-|[.-]?dev$)", parsed, re.IGNORECASE):
            raise InvalidVersion(f'tag "{tag}" uses a dev prefix or suffix, which tags cannot have')
        raise InvalidVersion(f'tag "{tag}" ({parsed}) does not match the version in composer.json ({normalized})')
    return RefVersion(version, normalized)


def branch_version(branch: str) -> RefVersion:
    """Return the version of a git branch: `main` -> `dev-main`, `2.x` -> `2.x-dev`, `v1.0` -> `v1.0.x-dev`.

    Raises:
        InvalidVersion: the branch name contains characters that would break Composer's constraint parser.
    """
    if not branch or re.search(r"[\s,|]", branch):
        raise InvalidVersion(f'branch "{branch}" cannot be used as a Composer version')
    parsed = normalize_branch(branch)
    if parsed.startswith("dev-") or parsed == DEFAULT_BRANCH_ALIAS:
        # Composer 2.6+ turns '#' into '+' so the name is not read as "version#reference".
        return RefVersion("dev-" + branch.replace("#", "+"), parsed.replace("#", "+"))
    prefix = "v" if branch.startswith("v") else ""
    return RefVersion(prefix + re.sub(r"(\.9{7})+", ".x", parsed), parsed)
