"""What a token's grants leave out: packages this broker serves that a granted package requires but the
token cannot see. `composer install` would fail to resolve them, so `token create` warns (and says which
grant to add) instead of leaving it to the first install.

Only a package's newest versions count (its newest tag, else its branches), and only `require`: platform
packages (`php`, `ext-*`, `lib-*`, `composer-*`: names without a slash) and packages this broker does not
serve (Packagist, another repository) are no concern of the token's.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from ..catalog.store import Catalog, VersionRow
from ..composer.documents import tag_order
from .store import Token


@dataclass(frozen=True, slots=True)
class MissingRequirement:
    #: A package this broker serves that the token cannot see.
    name: str
    #: The visible packages (or, transitively, other missing ones) that require it, sorted.
    required_by: tuple[str, ...]


def newest_versions(rows: Iterable[VersionRow]) -> list[VersionRow]:
    """The versions whose requirements count: the newest tag, or every branch when there is no tag."""
    rows = list(rows)
    tags = [row for row in rows if not row.is_dev]
    if tags:
        return [max(tags, key=lambda row: tag_order(row.version_normalized))]
    return rows


def requirements(row: VersionRow) -> set[str]:
    """The package names (never platform packages) a version's `require` names, lower-cased."""
    try:
        require = json.loads(row.data).get("require")
    except (ValueError, AttributeError):
        return set()
    if not isinstance(require, dict):
        return set()
    return {str(name).lower() for name in require if "/" in str(name)}


async def missing_requirements(token: Token, catalog: Catalog) -> list[MissingRequirement]:
    """The served packages that the token's visible packages require, directly or through one another,
    but that the token cannot see; empty for a token that sees everything."""
    if not token.restricted:
        return []
    served, _ = await catalog.names()
    served_set = set(served)
    pending = [name for name in served if token.may_see(name)]
    checked: set[str] = set()
    required_by: dict[str, set[str]] = {}
    while pending:
        name = pending.pop()
        if name in checked:
            continue
        checked.add(name)
        needed: set[str] = set()
        for row in newest_versions(await catalog.served_versions(name)):
            needed |= requirements(row)
        for dependency in sorted(needed & served_set):
            if token.may_see(dependency):
                continue
            required_by.setdefault(dependency, set()).add(name)
            pending.append(dependency)  # once granted, its own requirements must be visible too
    return [MissingRequirement(name, tuple(sorted(by))) for name, by in sorted(required_by.items())]
