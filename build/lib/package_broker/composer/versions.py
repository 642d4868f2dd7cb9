"""Version strings exactly as Composer reads them.

Composer normalises every version before it compares anything (`composer/semver`'s `VersionParser`); if we
disagreed, `composer install` would resolve differently against us than against packagist. (Git refs get a
few extra rules from Composer's VCS repository: see refs.py.)
tests/unit/composer/test_versions.py checks a table of cases against the real VersionParser, and
tests/property/ generates more. Every pattern is PCRE's ported with `re.ASCII`: PHP matches bytes, so
`\\d` is 0-9 and `i` folds A-Z only, while Python's defaults would accept `١.0` or `1.0-ſtable`.
"""

from __future__ import annotations

import re

from ..errors import InvalidVersion
from .php import strtolower, trim

#: Composer's modifier grammar: stability word, optional numbers, optional trailing "dev".
MODIFIER = r"[._-]?(?:(stable|beta|b|RC|alpha|a|patch|pl|p)((?:[.-]?\d+)*+)?)?([.-]?dev)?"
STABILITIES = r"stable|RC|beta|alpha|dev"

_I = re.IGNORECASE | re.ASCII
_ALIAS = re.compile(r"^([^,\s]++) ++as ++([^,\s]++)$", re.ASCII)
_STABILITY_FLAG = re.compile(rf"@(?:{STABILITIES})$", _I)
_BUILD_METADATA = re.compile(r"^([^,\s+]++)\+[^\s]++$", re.ASCII)
_CLASSICAL = re.compile(rf"^v?(\d{{1,5}})(\.\d++)?(\.\d++)?(\.\d++)?{MODIFIER}$", _I)
_DATE = re.compile(rf"^v?(\d{{4}}(?:[.:-]?\d{{2}}){{1,6}}(?:[.:-]?\d{{1,3}})?){MODIFIER}$", _I)
_DEV_SUFFIX = re.compile(r"(.*?)[.-]?dev$", _I)
_NUMERIC_BRANCH = re.compile(r"^v?(\d++)(\.(?:\d++|[xX*]))?(\.(?:\d++|[xX*]))?(\.(?:\d++|[xX*]))?$", _I)
_STABILITY_OF = re.compile(rf"{MODIFIER}(?:\+.*)?$", _I)
_NOT_DIGIT = re.compile(r"\D", re.ASCII)
_REFERENCE = re.compile(r"#.+$")

#: What Composer calls the default branch when it cannot name a version for it.
DEFAULT_BRANCH_ALIAS = "9999999-dev"

_STABILITY_WORDS = {"a": "alpha", "b": "beta", "p": "patch", "pl": "patch", "rc": "RC"}


def normalize(version: str) -> str:
    """Return Composer's normalised form of `version`, e.g. `v1.2` -> `1.2.0.0`, `1.0-rc1` -> `1.0.0.0-RC1`.

    Raises:
        InvalidVersion: when Composer would throw "Invalid version string".
    """
    original = version = trim(version)
    if match := _ALIAS.match(version):
        version = match[1]
    if match := _STABILITY_FLAG.search(version):
        version = version[: len(version) - len(match[0])]
    if version in ("master", "trunk", "default"):
        version = "dev-" + version
    if strtolower(version[:4]) == "dev-":
        return "dev-" + version[4:]
    if match := _BUILD_METADATA.match(version):
        version = match[1]

    if match := _CLASSICAL.match(version):
        version = match[1] + (match[2] or ".0") + (match[3] or ".0") + (match[4] or ".0")
        index = 5
    elif match := _DATE.match(version):
        version = _NOT_DIGIT.sub(".", match[1])
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
                + _STABILITY_WORDS.get(strtolower(stability), strtolower(stability))
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

    raise InvalidVersion(f'Invalid version string "{original}"' + _alias_hint(version, original))


def _alias_hint(version: str, full: str) -> str:
    """The hint VersionParser adds when the invalid part is one side of `a as b`."""
    flag = rf"(?:@(?:{STABILITIES}))?"
    if re.search(rf" +as +{re.escape(version)}{flag}$", full):
        return f' in "{full}", the alias must be an exact version'
    if re.match(rf"{re.escape(version)}{flag} +as +", full):
        return (
            f' in "{full}", the alias source must be an exact version, '
            "if it is a branch name you should prefix it with dev-"
        )
    return ""


def normalize_branch(name: str) -> str:
    """Return the normalised version of a branch: `2.x` -> `2.9999999.9999999.9999999-dev`, `main` -> `dev-main`."""
    name = trim(name)
    if match := _NUMERIC_BRANCH.match(name):
        parts = "".join(
            (match[i].replace("*", "x").replace("X", "x") if match[i] is not None else ".x") for i in range(1, 5)
        )
        return parts.replace("x", "9999999") + "-dev"
    return "dev-" + name


def parse_stability(version: str) -> str:
    """Return `dev`, `alpha`, `beta`, `RC` or `stable`, as Composer's VersionParser::parseStability does."""
    version = _REFERENCE.sub("", version)
    if version.startswith("dev-") or version.endswith("-dev"):
        return "dev"
    match = _STABILITY_OF.search(strtolower(version))
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
