"""Converting values across the JavaScript boundary, explicitly.

Pyodide's defaults do not fit the bindings: Python `None` becomes `undefined` (D1 refuses it; it wants
`null`), dicts become `Map`s (bindings want plain objects), JS `null` comes back as `jsnull`, not `None`.
Every adapter goes through these helpers, which tests/worker/adapters.test.mjs checks one by one.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from js import JSON, Object, Uint8Array
from pyodide.ffi import JsArray, JsException, JsProxy, JsTypedArray, jsnull, to_js

from ...budget import BudgetExhausted
from ...errors import BackendError

_SAFE_INTEGER = 2**53
#: What workerd throws once an invocation has used up its subrequests (fetch, then bindings).
_PLATFORM_LIMITS = ("Too many subrequests", "Too many API requests by single Worker invocation")


def failure(what: str, exc: JsException, detail: str | None = None) -> BackendError:
    """The core's error for a failed JavaScript call: `what` failed, with `detail` (default: the JS error).

    The platform's own subrequest limit becomes BudgetExhausted, so long work stops and resumes in the
    next run like it does when our own budget (SUBREQUEST_LIMIT, SERVICE_REQUEST_LIMIT) runs out first.
    """
    text = str(exc)
    if any(limit in text for limit in _PLATFORM_LIMITS):
        return BudgetExhausted(
            f"{what}: Cloudflare refused more subrequests in this invocation ({text[:100]}); set "
            "SUBREQUEST_LIMIT and SERVICE_REQUEST_LIMIT to your plan's limits"
        )
    return BackendError(f"{what}: {detail if detail is not None else text[:300]}")


def js_value(value: object) -> object:
    """A Python scalar for a binding argument: None -> null, bool -> 0/1 (SQLite), int -> a JS number.

    Pyodide turns ints beyond 32 bits into BigInt, which D1 refuses; up to 2**53 a JS number holds them
    exactly, so they cross as floats. Larger ones cannot be stored exactly and are refused.
    """
    if value is None:
        return jsnull
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int) and not -(2**31) <= value < 2**31:
        if abs(value) > _SAFE_INTEGER:
            raise ValueError(f"integer {value} is too large for a JavaScript number")
        return float(value)
    return value


def js_object(mapping: dict[str, Any]) -> JsProxy:
    """A plain JS object (not a Map) from a dict; values go through `js_value` (None -> null, ints)."""
    return to_js(
        {k: (v if isinstance(v, JsProxy) else js_value(v)) for k, v in mapping.items()},
        dict_converter=Object.fromEntries,
    )


def js_array(items: list[object]) -> JsArray[Any]:
    return to_js(items, dict_converter=Object.fromEntries)


def from_js_json(value: Any) -> Any:
    """Plain JS data (rows, metadata) to Python via JSON: null -> None, integral numbers -> int."""
    if value is None or value is jsnull:
        return None
    text = JSON.stringify(value)
    return None if text is None else json.loads(text)


def is_null(value: Any) -> bool:
    """True for JS null/undefined as Pyodide hands them over (None or jsnull)."""
    return value is None or value is jsnull


def to_uint8(data: bytes | bytearray | memoryview) -> JsTypedArray:
    """Copy Python bytes into a new JS Uint8Array."""
    array = Uint8Array.new(len(data))
    array.assign(data)
    return array


def to_bytes(buffer: Any) -> bytes:
    """Copy a JS ArrayBuffer or typed array into Python bytes."""
    if isinstance(buffer, JsProxy):
        return bytes(buffer.to_bytes())
    return bytes(buffer)


async def stream_chunks(stream: Any) -> AsyncIterator[bytes]:
    """Read a JS ReadableStream of bytes as Python chunks (request bodies, R2 objects)."""
    if is_null(stream):
        return
    reader = stream.getReader()
    try:
        while True:
            result = await reader.read()
            if result.done:
                return
            yield to_bytes(result.value)
    finally:
        reader.releaseLock()
