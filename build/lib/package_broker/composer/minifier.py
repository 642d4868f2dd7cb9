"""The `composer/2.0` minified metadata format (what `"minified": "composer/2.0"` announces).

The first version is sent whole; each later one carries only the top-level keys whose value differs from
the previous *expanded* version, and `"__unset"` for keys that went away. The diff is shallow: nested
objects (`require`, `autoload`, `dist`, ...) are replaced whole. Composer expands with
`composer/metadata-minifier`; `expand(minify(x)) == x` is the contract (tests/unit/composer/test_minifier.py).
"""

from __future__ import annotations

from typing import Any

UNSET = "__unset"

Version = dict[str, Any]


def minify(versions: list[Version]) -> list[Version]:
    """Return `versions` as diffs against their predecessor. `None` values are treated as absent, as in PHP."""
    minified: list[Version] = []
    previous: Version | None = None
    for version in versions:
        if previous is None:
            previous = {k: v for k, v in version.items() if v is not None}
            minified.append(dict(previous))
            continue
        diff: Version = {}
        for key, value in version.items():
            if value is not None and previous.get(key) != value:
                diff[key] = value
                previous[key] = value
        for key in [k for k in previous if version.get(k) is None]:
            diff[key] = UNSET
            del previous[key]
        minified.append(diff)
    return minified


def expand(versions: list[Version]) -> list[Version]:
    """Undo `minify`: rebuild every version from the diffs."""
    expanded: list[Version] = []
    current: Version | None = None
    for diff in versions:
        if current is None:
            current = dict(diff)
        else:
            current = dict(current)
            for key, value in diff.items():
                if value == UNSET:
                    current.pop(key, None)
                else:
                    current[key] = value
        expanded.append(current)
    return expanded
