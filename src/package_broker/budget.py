"""What one invocation may still spend: outbound fetches, calls to storage services, wall time.

A Cloudflare Worker invocation (one request, one cron event) may make only so many subrequests: on the
Free plan 50 `fetch()`es to other sites and 1,000 calls to D1, KV and R2; past that every call throws.
The Worker sets a `Budget` for each invocation from SUBREQUEST_LIMIT and SERVICE_REQUEST_LIMIT, its
adapters `charge()` every call, and long work (the sync job) asks `affords()` before each step, stops in
time and resumes in the next run. A few service calls are held back (`reserve`) so the bookkeeping that
must happen at the end (recording a source's status, releasing its lease) always can.

The server has no such limits: there a sync runs `within()` a budget that only has a time limit.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from .errors import BackendError

#: Service calls kept back for end-of-work bookkeeping (finish a source, release its lease).
RESERVE = 4


class BudgetExhausted(BackendError):
    """An invocation used up its subrequests; the work stops here and continues in the next run."""


@dataclass
class Budget:
    #: Outbound fetches to other sites allowed in this invocation (None: no limit).
    fetches: int | None = None
    #: Calls to D1, KV and R2 allowed in this invocation (None: no limit).
    services: int | None = None
    #: time.monotonic() after which long work should stop starting new steps (None: no limit).
    deadline: float | None = None
    reserve: int = RESERVE
    used_fetches: int = 0
    used_services: int = 0
    _releasing: bool = False

    def _left(self, kind: str) -> float:
        if kind == "fetch":
            return float("inf") if self.fetches is None else self.fetches - self.used_fetches
        if self.services is None:
            return float("inf")
        return self.services - self.used_services - (0 if self._releasing else self.reserve)

    def charge(self, kind: str) -> None:
        """Count one call of `kind` ("fetch" or "services"). Raises BudgetExhausted when none is left."""
        if self._left(kind) < 1:
            limit = "SUBREQUEST_LIMIT" if kind == "fetch" else "SERVICE_REQUEST_LIMIT"
            raise BudgetExhausted(f"this invocation used up its subrequests ({limit}); the rest waits for the next run")
        if kind == "fetch":
            self.used_fetches += 1
        else:
            self.used_services += 1

    def fetches_left(self) -> int | None:
        """Outbound fetches still allowed in this invocation (None: no limit)."""
        return None if self.fetches is None else max(0, self.fetches - self.used_fetches)

    def affords(self, *, fetches: int = 0, services: int = 0) -> bool:
        """True if `fetches` and `services` calls are still possible and time is left."""
        return self._left("fetch") >= fetches and self._left("services") >= services and not self.out_of_time()

    def out_of_time(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    @contextmanager
    def releasing_reserve(self) -> Iterator[None]:
        """Let the end-of-work bookkeeping spend the calls held back for it."""
        previous, self._releasing = self._releasing, True
        try:
            yield
        finally:
            self._releasing = previous


_current: ContextVar[Budget | None] = ContextVar("package_broker_budget", default=None)


def current() -> Budget:
    """The budget of the running invocation; without one (the server), a fresh unlimited budget."""
    return _current.get() or Budget()


@contextmanager
def spending(budget: Budget) -> Iterator[Budget]:
    """Make `budget` the current one for the code inside (one Worker invocation, one sync run)."""
    token = _current.set(budget)
    try:
        yield budget
    finally:
        _current.reset(token)


@contextmanager
def within(seconds: float | None) -> Iterator[Budget]:
    """The running invocation's budget (the Worker sets one), else a fresh unlimited one with this time limit."""
    existing = _current.get()
    if existing is not None:
        yield existing
        return
    with spending(Budget(deadline=None if seconds is None else time.monotonic() + seconds)) as budget:
        yield budget


def charge(kind: str) -> None:
    """Count one call against the running invocation's budget (adapters call this before each call)."""
    budget = _current.get()
    if budget is not None:
        budget.charge(kind)
