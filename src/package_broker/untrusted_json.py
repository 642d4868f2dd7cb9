"""Parsing JSON that strangers send (request bodies, uploaded composer.json files) with errors we can show.

Python's json recurses once per nesting level. On the server a few thousand `[` raise RecursionError (a
500 with a traceback); in Pyodide they overflow the WebAssembly stack first, which kills the Worker's
interpreter for good. So `loads` measures the nesting before parsing, with a linear scan that does not
recurse (string literals removed, then a running sum over the brackets), and refuses anything deeper than
MAX_DEPTH, which no real document comes near. Every other failure (syntax, not UTF-8, an integer of more
than 4,300 digits) becomes `UntrustedJsonError` too, with a sentence to show. So does a lone UTF-16
surrogate escape (`"\\ud800"`): Python decodes it into a string no UTF-8 encoder accepts, so it would fail
later, deep in a database driver, as a 500; PHP's json_decode refuses it too ("Single unpaired UTF-16
surrogate").
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

MAX_DEPTH = 64

#: A string literal, or an unterminated one up to the end (so the scan never restarts inside it: linear).
_STRING = re.compile(r'"(?:[^"\\]|\\.)*(?:"|\\?\Z)', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
#: A \\u escape in the surrogate range: only then can a parsed string hold a lone surrogate.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class UntrustedJsonError(ValueError):
    """The text is not JSON we accept; the message says why (and where, for syntax errors)."""


def loads(data: str | bytes) -> Any:
    """Parse JSON from outside (bytes must be UTF-8).

    Raises:
        UntrustedJsonError: not UTF-8, nested more than MAX_DEPTH deep, not valid JSON, or a number too long.
    """
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError:
        raise UntrustedJsonError("it is not UTF-8 text") from None
    if nesting(text) > MAX_DEPTH:
        raise UntrustedJsonError(f"it is nested more than {MAX_DEPTH} levels deep")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UntrustedJsonError(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except (ValueError, RecursionError) as exc:  # e.g. an integer longer than sys.get_int_max_str_digits()
        raise UntrustedJsonError(str(exc).split("\n")[0] or type(exc).__name__) from None
    if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(value):
        raise UntrustedJsonError("it holds an unpaired UTF-16 surrogate (a \\ud800-\\udfff escape on its own)")
    return value


def _has_lone_surrogate(value: Any) -> bool:
    """True if a string anywhere in `value` (keys included) cannot be encoded as UTF-8. Not recursive."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def nesting(text: str) -> int:
    """How deep arrays and objects nest in `text` (JSON or not), found without recursion."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)
