"""Package names: Composer's own rules, which also make names safe to use in URLs and storage keys.

A valid name is `vendor/package` made of lower-case words joined by `-`, `.` or `_` (never `..`, never a
leading dot, never `%` or `\\`), so a name that passes `validate_name` cannot traverse a path. The patterns
are Composer's PCRE ones with `re.ASCII`: under Python's Unicode IGNORECASE, `[a-z]` would also accept `K`
(the Kelvin sign) or `ı`.
"""

from __future__ import annotations

import re

from ..errors import InvalidName
from .php import strtolower

_NAME = re.compile(
    r"^[a-z0-9](?:[_.-]?[a-z0-9]++)*+/[a-z0-9](?:(?:[_.]|-{1,2})?[a-z0-9]++)*+$", re.IGNORECASE | re.ASCII
)
_RESERVED = frozenset(
    ["nul", "con", "prn", "aux"] + [f"com{i}" for i in range(1, 10)] + [f"lpt{i}" for i in range(1, 10)]
)
_CAMEL = re.compile(r"(?:([a-z])([A-Z])|([A-Z])([A-Z][a-z]))")


def naming_error(name: str) -> str | None:
    """Return why Composer would reject `name` as a package name, or None if it is fine."""
    if not _NAME.fullmatch(name):
        return (
            f"{name} is invalid, it should have a vendor name, a forward slash, and a package name. "
            "The vendor and package name can be words separated by -, . or _."
        )
    vendor, package = strtolower(name).split("/")
    if vendor in _RESERVED or package in _RESERVED:
        return f"{name} is reserved, package and vendor names can not match any of: {', '.join(sorted(_RESERVED))}."
    if name.endswith(".json"):
        return f"{name} is invalid, package names can not end in .json, consider using a -json suffix instead."
    if re.search(r"[A-Z]", name):
        suggestion = strtolower(_CAMEL.sub(lambda m: f"{m[1] or ''}{m[3] or ''}-{m[2] or ''}{m[4] or ''}", name))
        return f"{name} is invalid, it should not contain uppercase characters. We suggest using {suggestion} instead."
    return None


def validate_name(name: object) -> str:
    """Return `name` if it is a valid package name.

    Raises:
        InvalidName: with Composer's explanation of what is wrong.
    """
    if not isinstance(name, str) or not name:
        raise InvalidName('composer.json needs a "name" such as "acme/library"')
    if error := naming_error(name):
        raise InvalidName(error)
    return name


def prefix_text(prefix: str) -> str:
    """What a name must start with to match a token's prefix grant: a plain prefix (`acme/`, `acme/lib-`)
    or one ending with `*` as a wildcard (`acme/lib-*` and `acme/lib-` both mean `acme/lib-`).

    Whether a token may see a name is decided by `access.store.Token.may_see` alone."""
    return prefix[:-1] if prefix.endswith("*") else prefix
