"""The few PHP built-ins Composer's parsers lean on, with PHP's exact semantics.

Python's own versions look alike but differ on input Composer sees: `str.lower()` folds non-ASCII letters
(PHP 8.2's `strtolower` only folds A-Z), `str.strip()` strips Unicode whitespace (PHP's `trim` only
" \\t\\n\\r\\0\\x0B"), and Python has no `empty()` or `(string)` cast. Regular expressions that port PCRE
patterns use `re.ASCII` (see versions.py): without it `\\d`, `\\s` and IGNORECASE match non-ASCII text.
"""

from __future__ import annotations

#: What PHP's trim() removes by default.
TRIM = " \t\n\r\0\x0b"

_ASCII_LOWER = {code: code + 32 for code in range(ord("A"), ord("Z") + 1)}


def strtolower(text: str) -> str:
    """PHP 8.2's strtolower: A-Z only."""
    return text.translate(_ASCII_LOWER)


def trim(text: str) -> str:
    return text.strip(TRIM)


def empty(value: object) -> bool:
    """PHP's empty() for a decoded JSON value: null, false, 0, 0.0, "", "0" and [] are empty."""
    if value is None or value is False or value in ("", "0"):
        return True
    if isinstance(value, (list, dict)):
        return not value
    return type(value) in (int, float) and value == 0


def to_string(value: object) -> str:
    """PHP's (string) cast of a scalar: true is "1", false "", floats with `precision` = 14 as PHP prints them.

    Raises:
        TypeError: for arrays and null, which PHP would not turn into a meaningful string.
    """
    if value is True:
        return "1"
    if value is False:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = format(value, ".14G")
        if "E" in text:
            mantissa, exponent = text.split("E")
            mantissa += "" if "." in mantissa else ".0"
            text = f"{mantissa}E{exponent[0]}{int(exponent[1:])}"
        return text
    raise TypeError(f"PHP would not cast {type(value).__name__} to a string")
