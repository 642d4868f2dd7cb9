"""Version constraints exactly as Composer parses them (composer/semver's `VersionParser::parseConstraints`).

Composer parses every link constraint (`require`, `conflict`, ...) of a version when it loads it. Its VCS
repository skips a tag whose composer.json holds one it cannot parse; a Composer repository that served
such a version would make the whole package unloadable, because Composer loads every version of a p2 file
at once. So a sync parses constraints the same way (manifest.py) and skips just that ref, with Composer's
message. Branch names are checked with it too, as Composer's VCS repository does (refs.py).

`str()` of a result is PHP's `(string)` of the constraint object, which tests/property/ compares with the
real parser. The patterns are PCRE's ported with `re.ASCII` (see versions.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import InvalidConstraint, InvalidVersion
from .php import strtolower, to_string, trim
from .versions import MODIFIER, STABILITIES, normalize, parse_stability

_A, _I = re.ASCII, re.ASCII | re.IGNORECASE
_OR = re.compile(r"\s*\|\|?\s*", _A)
# PCRE's `(?<!^|as|[=>< ,])` has branches of different widths, which Python's lookbehind refuses: one each.
_AND = re.compile(r"(?<!^)(?<!as)(?<![=>< ,]) *(?<!-)[, ](?!-) *(?!,|as|$)", _A)
_ALIAS = re.compile(r"^([^,\s]++) ++as ++([^,\s]++)$", _A)
_FLAG = re.compile(rf"^([^,\s]*?)@({STABILITIES})$", _I)
_REF = re.compile(r"^(dev-[^,\s@]+?|[^,\s@]+?\.x-dev)#.+$", _I)
_ANY = re.compile(r"^(v)?[xX*](\.[xX*])*$", _I)
_VERSION = rf"v?(\d++)(?:\.(\d++))?(?:\.(\d++))?(?:\.(\d++))?(?:{MODIFIER}|\.([xX*][.-]?dev))(?:\+[^\s]+)?"
_TILDE = re.compile(rf"^~>?{_VERSION}$", _I)
_CARET = re.compile(rf"^\^{_VERSION}($)", _I)
_X_RANGE = re.compile(r"^v?(\d++)(?:\.(\d++))?(?:\.(\d++))?(?:\.[xX*])++$", _A)
_HYPHEN = re.compile(rf"^(?P<from>{_VERSION}) +- +(?P<to>{_VERSION})($)", _I)
_COMPARATOR = re.compile(r"^(<>|!=|>=?|<=?|==?)?\s*(.*)", _A)
_BRANCH_LIKE = re.compile(r"^[0-9a-zA-Z./-]+$", _A)
_HAS_MODIFIER = re.compile(rf"-{MODIFIER}$", _A)
_OPERATORS = {"=": "==", "==": "==", "<": "<", "<=": "<=", ">": ">", ">=": ">=", "<>": "!=", "!=": "!="}
_INT_MAX = 2**63 - 1


@dataclass(frozen=True, slots=True)
class Constraint:
    operator: str
    version: str

    def __str__(self) -> str:
        return f"{_OPERATORS[self.operator]} {self.version}"


@dataclass(frozen=True, slots=True)
class MatchAll:
    def __str__(self) -> str:
        return "*"


@dataclass(frozen=True, slots=True)
class Multi:
    constraints: tuple[Parsed, ...]
    conjunctive: bool

    def __str__(self) -> str:
        return "[" + (" " if self.conjunctive else " || ").join(map(str, self.constraints)) + "]"


Parsed = Constraint | MatchAll | Multi


def parse_constraints(text: str) -> Parsed:
    """Parse a constraint such as `^1.2 || ~2.0@beta`, as Composer does.

    Raises:
        InvalidConstraint: with Composer's message ("Could not parse version constraint ...").
    """
    groups: list[Parsed] = []
    for alternative in _OR.split(trim(text)):
        parts = _AND.split(alternative)
        found = [c for part in parts for c in _parse_one(part)]
        groups.append(found[0] if len(found) == 1 else Multi(tuple(found), True))
    return groups[0] if len(groups) == 1 else _disjunction(groups)


def _disjunction(groups: list[Parsed]) -> Parsed:
    """MultiConstraint::create(..., false): adjacent ranges `[>= a < b] || [>= b < c]` become `[>= a < c]`."""
    merged: list[Parsed] = []
    left = groups[0]
    for right in groups[1:]:
        if (
            isinstance(left, Multi)
            and isinstance(right, Multi)
            and left.conjunctive
            and right.conjunctive
            and len(left.constraints) == 2
            and len(right.constraints) == 2
            and str(left.constraints[0]).startswith(">=")
            and str(left.constraints[1]).startswith("<")
            and str(right.constraints[0]).startswith(">=")
            and str(right.constraints[1]).startswith("<")
            and str(left.constraints[1])[2:] == str(right.constraints[0])[3:]
        ):
            left = Multi((left.constraints[0], right.constraints[1]), True)
        else:
            merged.append(left)
            left = right
    merged.append(left)
    return merged[0] if len(merged) == 1 else Multi(tuple(merged), False)


def _parse_one(constraint: str) -> list[Parsed]:
    try:
        return _parse_single(constraint)
    except InvalidVersion as exc:  # Composer lets VersionParser's message through unchanged
        raise InvalidConstraint(str(exc)) from None


def _parse_single(constraint: str) -> list[Parsed]:
    if match := _ALIAS.match(constraint):
        constraint = match[1]
    stability: str | None = None
    if match := _FLAG.match(constraint):
        constraint = match[1] or "*"
        if match[2] != "stable":
            stability = match[2]
    if match := _REF.match(constraint):
        constraint = match[1]
    if match := _ANY.match(constraint):
        return [Constraint(">=", "0.0.0.0-dev")] if match[1] or match[2] else [MatchAll()]

    if match := _TILDE.match(constraint):
        if constraint.startswith("~>"):
            raise InvalidConstraint(
                f'Could not parse version constraint {constraint}: Invalid operator "~>", '
                'you probably meant to use the "~" operator'
            )
        position = next((i for i in (4, 3, 2) if match[i] not in (None, "")), 1) + (1 if match[8] else 0)
        low = normalize(constraint[1:] + _dev_suffix(match[5], match[7], match[8]))
        return [Constraint(">=", low), Constraint("<", _bump(match, max(1, position - 1)) + "-dev")]

    if match := _CARET.match(constraint):
        if match[1] != "0" or not match[2]:
            position = 1
        elif match[2] != "0" or not match[3]:
            position = 2
        else:
            position = 3
        low = normalize(constraint[1:] + _dev_suffix(match[5], match[7], match[8]))
        return [Constraint(">=", low), Constraint("<", _bump(match, position) + "-dev")]

    if match := _X_RANGE.match(constraint):
        position = next((i for i in (3, 2) if match[i] not in (None, "")), 1)
        low = _pad(match, position) + "-dev"
        high = _bump(match, position) + "-dev"
        if low == "0.0.0.0-dev":
            return [Constraint("<", high)]
        return [Constraint(">=", low), Constraint("<", high)]

    if match := _HYPHEN.match(constraint):
        lower = Constraint(">=", normalize(match["from"]) + _dev_suffix(match[6], match[8], match[9]))
        if (not _empty(match[12]) and not _empty(match[13])) or match[15] or match[17] or match[18]:
            return [lower, Constraint("<=", normalize(match["to"]))]
        normalize(match["to"])  # validates the upper version
        upper = ["", match[11], match[12], match[13], match[14]]
        return [lower, Constraint("<", _bump(upper, 1 if _empty(match[12]) else 2) + "-dev")]

    return [_comparison(constraint, stability)]


def _comparison(constraint: str, stability: str | None) -> Constraint:
    match = _COMPARATOR.match(constraint)
    assert match is not None  # every string matches
    operator, target = match[1] or "=", match[2]
    try:
        try:
            version = normalize(target)
        except InvalidVersion:
            # `foobar-dev` means `dev-foobar`, unless an operator makes it a parse error.
            if not (target.endswith("-dev") and _BRANCH_LIKE.match(target)):
                raise
            version = normalize("dev-" + target[:-4])
    except InvalidVersion as exc:
        raise InvalidConstraint(f"Could not parse version constraint {constraint}: {exc}") from None
    if operator not in ("==", "=") and stability and parse_stability(version) == "stable":
        version += "-" + stability
    elif operator in ("<", ">=") and not _HAS_MODIFIER.search(strtolower(target)) and not target.startswith("dev-"):
        version += "-dev"
    return Constraint(operator, version)


def _dev_suffix(stability: str | None, dev: str | None, wildcard: str | None) -> str:
    return "" if stability or dev or wildcard else "-dev"


def _empty(value: str | None) -> bool:
    """The hyphen range's `$empty`: like PHP's empty(), but "0" counts as a value."""
    return not value


def _pad(parts: re.Match[str] | list[str | None], position: int) -> str:
    """manipulateVersionString without increment: parts after `position` become 0."""
    return ".".join(str(parts[i]) if i <= position else "0" for i in range(1, 5))


def _bump(parts: re.Match[str] | list[str | None], position: int) -> str:
    """manipulateVersionString(+1): add one at `position` (PHP arithmetic: past PHP_INT_MAX it is a float)."""
    number = int(str(parts[position])) + 1
    bumped = str(number) if number <= _INT_MAX else to_string(float(int(str(parts[position]))) + 1)
    return ".".join(str(parts[i]) if i < position else bumped if i == position else "0" for i in range(1, 5))
