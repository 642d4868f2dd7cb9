# Typed stub for the JavaScript globals PACKAGE.broker imports from `js` (runtimes/cloudflare/): AbortSignal,
# JSON, Object, Promise, ReadableStream, Response, Uint8Array, crypto and fetch; nothing else, so importing
# another global means declaring it here first. Checked against Pyodide 0.28.2's API (how values cross the
# boundary: a JS string comes back as str, `undefined` as None, an object as a JsProxy, see
# stubs/pyodide/ffi.pyi) and the Web APIs the Workers runtime provides.
#
# At runtime every name here is a JsProxy. The stub types each as a class with only the members this
# project calls, without JsProxy's dynamic attributes, so a misspelt or undeclared member is an error. What
# those members return (requests, responses, streams, keys) is typed JsProxy: dynamic JavaScript objects.

from collections.abc import Callable, Iterable
from typing import Any

from pyodide.ffi import JsArray, JsBuffer, JsPromise, JsProxy, JsTypedArray

class _AbortSignalConstructor:
    def timeout(self, milliseconds: int, /) -> JsProxy: ...

class _JSON:
    # None: JSON.stringify(undefined) is undefined (Python None crosses as undefined).
    def stringify(self, value: Any, /) -> str | None: ...

class _ObjectConstructor:
    # `entries` is any iterable of [key, value] pairs: a Headers object, or what `to_js` passes a
    # `dict_converter`.
    def fromEntries(self, entries: JsProxy | Iterable[object], /) -> JsProxy: ...

class _PromiseConstructor:
    # The executor is called at once with (resolve, reject), both JS functions.
    def new(self, executor: Callable[[Any, Any], object], /) -> JsPromise[Any]: ...

class _ReadableStreamConstructor:
    def new(self, underlying_source: JsProxy, /) -> JsProxy: ...

class _ResponseConstructor:
    # `body` is a BodyInit (typed array, ReadableStream, string) or null/undefined for no body.
    def new(self, body: JsProxy | str | None, init: JsProxy, /) -> JsProxy: ...

class _Uint8ArrayConstructor:
    def new(self, length: int, /) -> JsTypedArray: ...

class _SubtleCrypto:
    def digest(self, algorithm: str, data: JsBuffer, /) -> JsPromise[JsBuffer]: ...
    def importKey(
        self, format: str, key_data: JsBuffer, algorithm: JsProxy, extractable: bool, key_usages: JsArray[str], /
    ) -> JsPromise[JsProxy]: ...
    def encrypt(self, algorithm: JsProxy, key: JsProxy, data: JsBuffer, /) -> JsPromise[JsBuffer]: ...
    def decrypt(self, algorithm: JsProxy, key: JsProxy, data: JsBuffer, /) -> JsPromise[JsBuffer]: ...
    def deriveBits(self, algorithm: JsProxy, key: JsProxy, length: int, /) -> JsPromise[JsBuffer]: ...

class _Crypto:
    subtle: _SubtleCrypto

AbortSignal: _AbortSignalConstructor
JSON: _JSON
Object: _ObjectConstructor
Promise: _PromiseConstructor
ReadableStream: _ReadableStreamConstructor
Response: _ResponseConstructor
Uint8Array: _Uint8ArrayConstructor
crypto: _Crypto

def fetch(resource: str | JsProxy, init: JsProxy | None = None, /) -> JsPromise[JsProxy]: ...
