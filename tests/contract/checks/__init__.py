"""The port contracts as plain async functions, one module per port, so every runtime runs the same checks.

Each check is `async def <what the contract says>(port) -> None` with plain `assert`s, listed in its
module's `CHECKS`. The server's adapters run them through pytest (tests/contract/test_*.py parametrizes
over `CHECKS`); the Worker's D1, Workers KV and R2 adapters run them inside Pyodide
(tests/worker/contract.test.mjs). Pyodide has no pytest and no server drivers, so these modules import
only the standard library and `package_broker`'s runtime-neutral code: a server-only import here fails
the Worker suite at import time.

Every check starts on a fresh store (an empty database, KV namespace or bucket) and may use fixed names.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

P = TypeVar("P")
E = TypeVar("E", bound=BaseException)

#: A contract check for a port of type P.
Check = Callable[[P], Awaitable[None]]


async def raises(error: type[E], awaitable: Awaitable[object]) -> E:
    """Await `awaitable` and return the `error` it raised (pytest.raises, which Pyodide does not have)."""
    try:
        await awaitable
    except error as exc:
        return exc
    raise AssertionError(f"expected {error.__name__}, nothing was raised")
