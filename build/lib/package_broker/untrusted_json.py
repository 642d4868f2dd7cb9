"""Parsing JSON that strangers send (request bodies, uploaded composer.json files) with errors we can show.

Python's json recurses once per nesting level. On the server a few thousand `[` raise RecursionError (a
500 with a traceback); in Pyodide they overflow the WebAssembly stack first, which kills the Worker's
interpreter for good. So `loads` measures the nesting before parsing, with a linear scan that does not
recurse (string literals removed, then a running sum over the brackets), and refuses anything deeper than
MAX_DEPTH, which no real document comes near. Every other failure (syntax, not UTF-8, an integer of more
than 4,300 digits) becomes `UntrustedJsonError` too, with a sentence to show.
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
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UntrustedJsonError(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except (ValueError, RecursionError) as exc:  # e.g. an integer longer than sys.get_int_max_str_digits()
        raise UntrustedJsonError(str(exc).split("\n")[0] or type(exc).__name__) from None


def nesting(text: str) -> int:
    """How deep arrays and objects nest in `text` (JSON or not), found without recursion."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)
