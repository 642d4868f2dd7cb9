"""JSON bytes decoded exactly as Composer decodes composer.json: PHP's `json_decode($json, true)` (depth 512).

Python's `json.loads` accepts more than PHP does, and Composer skips a ref whose composer.json PHP cannot
decode, so each difference is refused here with the reason:

* a UTF-8 byte order mark (Python's `utf-8-sig` codec would drop it; PHP reports a syntax error);
* a `\\ud800`-style escape without its pair (Python keeps a lone surrogate, which later fails to encode);
* `NaN`, `Infinity` and `-Infinity`;
* more than 511 nested arrays and objects (Python accepts more, or raises RecursionError).

Numbers are read as PHP reads them: integers beyond 64 bits become floats.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .. import untrusted_json
from ..errors import InvalidManifest

#: PHP's default json_decode depth: at most 511 nested arrays and objects decode.
MAX_DEPTH = 511

_SURROGATE = re.compile("[\ud800-\udfff]")
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1


def decode(raw: bytes, what: str = "composer.json") -> Any:
    """Decode `raw` as PHP's json_decode would, or raise InvalidManifest saying why PHP refuses it."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raise InvalidManifest(f"{what} starts with a UTF-8 byte order mark, which Composer cannot read")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidManifest(f"{what} is not UTF-8 text") from None
    # Measured before parsing, without recursion: in Pyodide a deep enough document overflows the Wasm
    # stack inside json.loads, which kills the Worker's interpreter instead of raising.
    if untrusted_json.nesting(text) > MAX_DEPTH:
        raise InvalidManifest(f"{what} nests arrays and objects more than {MAX_DEPTH} levels deep")
    try:
        data = json.loads(text, parse_int=_php_int, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise InvalidManifest(f"{what} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except _Constant as exc:
        raise InvalidManifest(f"{what} is not valid JSON: {exc} is not a JSON value") from None
    except RecursionError:
        raise InvalidManifest(f"{what} nests arrays and objects more than {MAX_DEPTH} levels deep") from None
    _check(data, what)
    return data


def _php_int(text: str) -> int | float:
    # Checked by length first: int() refuses strings of more than 4300 digits.
    if len(text) <= 20 and _INT_MIN <= (number := int(text)) <= _INT_MAX:
        return number
    return float(text)


class _Constant(ValueError):
    """NaN, Infinity or -Infinity, which Python's json module reads and PHP's does not."""


def _no_constant(name: str) -> Any:
    raise _Constant(name)


def _check(data: Any, what: str) -> None:
    """Refuse what json.loads accepted but json_decode does not: deep nesting and unpaired surrogates."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if _SURROGATE.search(value):
                raise InvalidManifest(f"{what} has a \\u escape of half a UTF-16 surrogate pair, which is not text")
        elif isinstance(value, (dict, list)):
            if depth > MAX_DEPTH:
                raise InvalidManifest(f"{what} nests arrays and objects more than {MAX_DEPTH} levels deep")
            items = [*value.keys(), *value.values()] if isinstance(value, dict) else value
            stack.extend((item, depth + 1) for item in items)
