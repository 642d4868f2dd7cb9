"""The `composer/2.0` minified metadata format (what `"minified": "composer/2.0"` announces).

The first version is sent whole; each later one carries only the top-level keys whose value differs from
the previous *expanded* version, and `"__unset"` for keys that went away. The diff is shallow: nested
objects (`require`, `autoload`, `dist`, ...) are replaced whole. Composer expands with
`composer/metadata-minifier`; `expand(minify(x)) == x` is the contract (tests/unit/composer/test_minifier.py).

"Differs" is PHP's `!==`: Python's `==` says `true == 1`, `1.0 == 1` and `{"a": 1, "b": 2} == {"b": 2, "a": 1}`,
and a later version whose `extra` held `1` where an earlier one held `true` would have inherited the `true`.
Both functions follow `MetadataMinifier` line by line, including its quirks (an empty expanded version
counts as "no previous version").
"""

from __future__ import annotations

from typing import Any

UNSET = "__unset"

Version = dict[str, Any]


def identical(a: Any, b: Any) -> bool:
    """PHP's `===` on decoded JSON: same types (bool, int and float differ), arrays with the same keys in the
    same order. JSON objects and lists are both PHP arrays: `[]` is `{}`, and `["x"]` is `{"0": "x"}`."""
    if isinstance(a, (dict, list)) and isinstance(b, (dict, list)):
        pairs_a, pairs_b = _pairs(a), _pairs(b)
        return len(pairs_a) == len(pairs_b) and all(
            ka == kb and identical(va, vb) for (ka, va), (kb, vb) in zip(pairs_a, pairs_b, strict=True)
        )
    return type(a) is type(b) and bool(a == b)


def _pairs(array: dict[str, Any] | list[Any]) -> list[tuple[str, Any]]:
    return list(array.items()) if isinstance(array, dict) else [(str(i), v) for i, v in enumerate(array)]


def minify(versions: list[Version]) -> list[Version]:
    """Return `versions` as diffs against their predecessor. `None` values are treated as absent, as in PHP."""
    minified: list[Version] = []
    previous: Version = {}
    for version in versions:
        if not previous:
            previous = {k: v for k, v in version.items() if v is not None}
            minified.append(dict(previous))
            continue
        diff: Version = {}
        for key, value in version.items():
            if value is not None and not identical(previous.get(key), value):
                diff[key] = value
                previous[key] = value
        for key in [k for k in previous if version.get(k) is None]:
            diff[key] = UNSET
            del previous[key]
        minified.append(diff)
    return minified


def expand(versions: list[Version]) -> list[Version]:
    """Undo `minify`, as `MetadataMinifier::expand` does."""
    expanded: list[Version] = []
    current: Version = {}
    for diff in versions:
        if not current:
            current = dict(diff)
        else:
            current = dict(current)
            for key, value in diff.items():
                if identical(value, UNSET):
                    current.pop(key, None)
                else:
                    current[key] = value
        expanded.append(current)
    return expanded
