# Typed stub for the part of `pyodide.ffi` that PACKAGE.broker imports (runtimes/cloudflare/): `JsProxy`,
# `JsException`, `jsnull`, `to_js`, `create_proxy`, `create_once_callable`, and the types their signatures and
# the `js` stub (stubs/js/__init__.pyi) return. Checked against Pyodide 0.28.2's API: the signatures follow
# _pyodide/_core_docs.py and pyodide/ffi/__init__.py of that release, with these deliberate differences:
#   - `JsProxy.__getattr__` returns Any: every other attribute of a proxy is a property of the JavaScript
#     object, which no stub can know (Pyodide's own annotations leave it out, so `proxy.length` fails there).
#   - `JsPromise.__await__`: Pyodide documents awaiting a proxy of a thenable but does not annotate it.
#   - `to_js`: a dict with a `dict_converter` becomes what the converter returns; a tuple of any length is
#     an Array (Pyodide annotates `tuple[Any]`, a 1-tuple).
# Members this project does not use are left out; add them here (from the same release) when it does.

from collections.abc import Callable, Generator, Iterable, Iterator, MutableSequence
from typing import Any, Generic, Literal, ParamSpec, Protocol, TypeVar, overload

_P = ParamSpec("_P")
_T = TypeVar("_T")
_R = TypeVar("_R")

class JsProxy:
    """A proxy of a JavaScript object. Cannot be instantiated from Python."""

    @property
    def js_id(self) -> int: ...
    @property
    def typeof(self) -> str: ...
    def new(self, *args: Any, **kwargs: Any) -> JsProxy: ...
    def to_py(
        self,
        *,
        depth: int = -1,
        default_converter: Callable[[JsProxy, Callable[[JsProxy], Any], Callable[[JsProxy, Any], None]], Any]
        | None = None,
    ) -> Any: ...
    # Any other attribute is a property of the JavaScript object: dynamic.
    def __getattr__(self, name: str) -> Any: ...

class JsPromise(JsProxy, Generic[_T]):
    def __await__(self) -> Generator[Any, Any, _T]: ...

class JsArray(JsProxy, MutableSequence[_T]):
    @overload
    def __getitem__(self, idx: int) -> _T: ...
    @overload
    def __getitem__(self, idx: slice) -> JsArray[_T]: ...
    @overload
    def __setitem__(self, idx: int, value: _T) -> None: ...
    @overload
    def __setitem__(self, idx: slice, value: Iterable[_T]) -> None: ...
    def __delitem__(self, idx: int | slice) -> None: ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[_T]: ...
    def insert(self, index: int, value: _T) -> None: ...

class JsBuffer(JsProxy):
    """A proxy of an ArrayBuffer or an ArrayBuffer view (typed array, DataView)."""

    def assign(self, rhs: Any, /) -> None: ...
    def assign_to(self, to: Any, /) -> None: ...
    def to_memoryview(self) -> memoryview: ...
    def to_bytes(self) -> bytes: ...

class JsTypedArray(JsBuffer, JsArray[int]):
    BYTES_PER_ELEMENT: int
    buffer: JsBuffer
    def subarray(self, start: int | None = None, stop: int | None = None) -> JsTypedArray: ...

class JsCallable(JsProxy, Generic[_P, _T]):
    def __call__(self, *args: _P.args, **kwargs: _P.kwargs) -> _T: ...

class JsDoubleProxy(JsProxy, Generic[_T]):
    """A proxy made by `create_proxy`: lives until `destroy()`."""

    def destroy(self) -> None: ...
    def unwrap(self) -> _T: ...

class JsCallableDoubleProxy(JsDoubleProxy[Callable[_P, _T]], JsCallable[_P, _T], Generic[_P, _T]): ...

class JsOnceCallable(JsCallable[_P, _T], Generic[_P, _T]):
    """A JavaScript function made by `create_once_callable`: released after its first call."""

    def destroy(self) -> None: ...

class JsException(JsProxy, Exception):
    """A JavaScript error raised into Python."""

    name: str
    message: str
    stack: str
    @classmethod
    def new(cls, *args: Any) -> JsException: ...

class JsNull:
    """The type of `jsnull`, the Python form of JavaScript `null`."""

    typeof: str
    def __bool__(self) -> Literal[False]: ...

jsnull: JsNull

class ToJsConverter(Protocol):
    def __call__(
        self, /, value: Any, converter: Callable[[Any], JsProxy], cache: Callable[[Any, JsProxy], None]
    ) -> JsProxy: ...

@overload
def to_js(
    obj: list[Any] | tuple[Any, ...],
    /,
    *,
    depth: int = -1,
    pyproxies: JsProxy | None = None,
    create_pyproxies: bool = True,
    dict_converter: Callable[[Iterable[JsArray[Any]]], JsProxy] | None = None,
    default_converter: ToJsConverter | None = None,
    eager_converter: ToJsConverter | None = None,
) -> JsArray[Any]: ...
@overload
def to_js(
    obj: dict[Any, Any],
    /,
    *,
    depth: int = -1,
    pyproxies: JsProxy | None = None,
    create_pyproxies: bool = True,
    dict_converter: Callable[[Iterable[JsArray[Any]]], _R],
    default_converter: ToJsConverter | None = None,
    eager_converter: ToJsConverter | None = None,
) -> _R: ...
@overload
def to_js(
    obj: Any,
    /,
    *,
    depth: int = -1,
    pyproxies: JsProxy | None = None,
    create_pyproxies: bool = True,
    dict_converter: Callable[[Iterable[JsArray[Any]]], JsProxy] | None = None,
    default_converter: ToJsConverter | None = None,
    eager_converter: ToJsConverter | None = None,
) -> Any: ...
@overload
def create_proxy(
    obj: Callable[_P, _T], /, *, capture_this: bool = False, roundtrip: bool = True
) -> JsCallableDoubleProxy[_P, _T]: ...
@overload
def create_proxy(obj: _T, /, *, capture_this: bool = False, roundtrip: bool = True) -> JsDoubleProxy[_T]: ...
def create_once_callable(obj: Callable[_P, _T], /) -> JsOnceCallable[_P, _T]: ...
