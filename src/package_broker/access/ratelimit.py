"""Request limits per token, and throttling of failed authentication per client address.

Both count in fixed windows (a token's limit per hour, failures per ten minutes) in a `Counter` shared by
every process: the database (SQLite, PostgreSQL, D1: one atomic upsert that returns the new total) or
Redis (`INCRBY` with an expiry) when it is the configured cache. Nothing else is stored per request.

**Exactness and its bound.** With `batch=1` (the server) every request takes its own place in the shared
count before it is answered, and only places up to the limit succeed, so no window ever admits more than
the limit, across processes and replicas (of 2,000 concurrent requests at a limit of 1,000, exactly 1,000
succeed). A write per request would cost more than the warm metadata hit it guards, so a process takes
places in blocks: requests that arrive while a write is on its way share the next one, and each write
also reserves up to `RESERVE` places beyond them (at most 1/16 of what the limit had left when it was
last seen): the following requests of that token take those places with no I/O. The price is on the
other side of the limit: places a process reserved and never used (the token stopped sending to that
process) are lost to the window, so a token can be refused up to min(RESERVE, remaining/16) requests per
process early; the headers every answer carries are its own place, exact.

On Workers a shared write per request would put a D1 round trip on every metadata hit, so each isolate adds
its requests to D1 in batches of `batch` (one D1 call per `batch` requests) and, once the known total comes
within `batch` of the limit, on every request. An isolate decides with the shared total it last saw plus its
own unsent requests, so requests no isolate has sent yet can slip through: each isolate lets through at most
`batch - 1` requests beyond the limit (those of one unsent batch: after its next send it knows the total and
decides exactly), so at most isolates x (batch - 1) per window.

**Failed authentication** costs one counter increment per failure and no read: each process remembers
the addresses whose shared failure count crossed the limit (until their window ends) and answers them 429
before looking at the token, so a guesser gets at most the limit (plus one per other process) guesses per
window, and a valid token from any other address is unaffected.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol

from ..cache import Memory
from ..ports import Clock, Database
from .auth import AuthError

#: A token's limit counts requests per hour.
TOKEN_WINDOW = 3600
#: Failed authentications count per ten minutes and per client address.
FAILURE_WINDOW = 600
#: Windows older than this are deleted from the database now and then.
_KEEP = 2 * TOKEN_WINDOW
#: Places in the shared count a process reserves with one write beyond the requests it carries (see above).
RESERVE = 256


class Counter(Protocol):
    async def add(self, key: str, window_start: int, amount: int, ttl: int) -> int:
        """Add `amount` to the count of `key` in the window starting at `window_start`; return the new total.
        Atomic across processes. `ttl`: how long the count must live (seconds)."""
        ...


class DatabaseCounter:
    """Counts in the `rate_counters` table: one upsert with RETURNING (SQLite >= 3.35, PostgreSQL, D1)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._adds = 0

    async def add(self, key: str, window_start: int, amount: int, ttl: int) -> int:
        row = await self.db.fetch_one(
            "INSERT INTO rate_counters (key, window_start, count) VALUES (?, ?, ?) "
            "ON CONFLICT (key, window_start) DO UPDATE SET count = rate_counters.count + excluded.count "
            "RETURNING count",
            (key, window_start, amount),
        )
        self._adds += 1
        if self._adds % 1000 == 0:  # now and then, forget windows long past
            await self.db.execute("DELETE FROM rate_counters WHERE window_start < ?", (window_start - _KEEP,))
        return int(row["count"]) if row else amount


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs several times more, on every request
class Decision:
    allowed: bool
    limit: int
    remaining: int
    #: Unix time at which the window ends (X-RateLimit-Reset).
    reset: int

    def headers(self) -> list[tuple[str, str]]:
        return [
            ("x-ratelimit-limit", str(self.limit)),
            ("x-ratelimit-remaining", str(self.remaining)),
            ("x-ratelimit-reset", str(self.reset)),
        ]


class RateLimiter:
    """Counts one key's requests per window against a limit (see the module's docstring for exactness)."""

    def __init__(self, counter: Counter, clock: Clock, *, window: int = TOKEN_WINDOW, batch: int = 1) -> None:
        self.counter = counter
        self.clock = clock
        self.window = window
        self.batch = max(1, batch)
        #: key -> (window start, shared total last seen, requests not sent yet)
        self._local: dict[str, tuple[int, int, int]] = {}
        #: (key, window start) -> requests waiting for their count while one add is on its way.
        self._waiting: dict[tuple[str, int], list[asyncio.Future[int]]] = {}
        #: (key, window start) -> [next place, last place] reserved by this process and not used yet.
        self._reserved: dict[tuple[str, int], list[int]] = {}
        #: (key, window start) -> the limit the last request of it was counted against.
        self._limits: dict[tuple[str, int], int] = {}

    async def hit(self, key: str, limit: int) -> Decision:
        now = self.clock.now()
        start = now - now % self.window
        reset = start + self.window
        if self.batch == 1:
            slot = (key, start)
            reserved = self._reserved.get(slot)
            if reserved is not None and reserved[0] <= reserved[1]:
                used = reserved[0]  # a place this process reserved: no I/O
                reserved[0] += 1
            else:
                self._limits[slot] = limit
                used = await self._count(slot)
            return Decision(used <= limit, limit, max(0, limit - used), reset)
        seen_start, total, unsent = self._local.get(key, (start, 0, 0))
        if seen_start != start:
            total, unsent = 0, 0
        unsent += 1
        if unsent >= self.batch or total + unsent >= limit - self.batch:
            total, unsent = await self.counter.add(key, start, unsent, self.window), 0
        self._local[key] = (start, total, unsent)
        if len(self._local) > 50_000:  # bounded memory: forget the oldest keys
            for stale in list(self._local)[:10_000]:
                del self._local[stale]
        used = total + unsent
        return Decision(used <= limit, limit, max(0, limit - used), reset)

    async def _count(self, slot: tuple[str, int]) -> int:
        """This request's own place in the shared count, exactly. Requests of one key that arrive while an
        add is on its way are added together by the next one (n requests, one round trip) and take the
        places total - n + 1 ... total in order: under load a process makes one write per round trip, not
        one per request, and every request still knows its exact count."""
        mine: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        waiting = self._waiting.get(slot)
        if waiting is not None:  # an add is on its way: ride with the next one
            waiting.append(mine)
            return await mine
        self._waiting[slot] = [mine]
        asyncio.ensure_future(self._send(slot))
        return await mine

    async def _send(self, slot: tuple[str, int]) -> None:
        """Add the waiting requests of `slot` (and reserve places beyond them), then those that arrived
        meanwhile, until none is left."""
        key, start = slot
        while waiting := self._waiting[slot]:
            self._waiting[slot] = []  # later arrivals wait for the next add
            reserved = self._reserved.get(slot)
            if reserved is not None and reserved[0] <= reserved[1]:
                # Places were reserved while this add was on its way: use those first.
                places = range(reserved[0], reserved[1] + 1)[: len(waiting)]
                reserved[0] += len(places)
                for place, each in zip(places, waiting, strict=False):
                    if not each.done():
                        each.set_result(place)
                waiting = waiting[len(places) :]
                if not waiting:
                    continue
            seen = reserved[1] if reserved is not None else 0
            extra = min(RESERVE, max(0, (self._limits.get(slot, 0) - seen - len(waiting)) // 16))
            try:
                total = await self.counter.add(key, start, len(waiting) + extra, self.window)
            except Exception as exc:  # the store failed: every request waiting on it fails (a 503), none hangs
                for each in waiting + self._waiting.pop(slot, []):
                    if not each.done():
                        each.set_exception(exc)
                return
            first = total - len(waiting) - extra + 1
            for place, each in enumerate(waiting, start=first):
                if not each.done():
                    each.set_result(place)
            self._reserved[slot] = [total - extra + 1, total]
        del self._waiting[slot]
        if len(self._reserved) > 10_000:  # bounded memory: forget windows past and the oldest keys
            for stale in [s for s in self._reserved if s[1] != start][:5_000] or list(self._reserved)[:5_000]:
                self._reserved.pop(stale, None)
                self._limits.pop(stale, None)
        elif len(self._limits) > 20_000:
            self._limits.clear()


class FailureThrottle:
    """Throttles an address after `limit` failed authentications in a window (one counter write each)."""

    def __init__(self, counter: Counter, clock: Clock, *, limit: int, window: int = FAILURE_WINDOW) -> None:
        self.counter = counter
        self.clock = clock
        self.limit = limit
        self.window = window
        self._blocked = Memory(10_000)

    def blocked(self, address: str | None) -> int | None:
        """Seconds until `address` may try again, or None (no storage read: this process's memory)."""
        if address is None or self.limit <= 0:
            return None
        until = self._blocked.get(address)
        if until is None:
            return None
        left = int(until) - self.clock.now()
        return left if left > 0 else None

    async def failed(self, address: str | None) -> None:
        """Count one failed authentication from `address`; block it here once the shared count passes the limit."""
        if address is None or self.limit <= 0:
            return
        now = self.clock.now()
        start = now - now % self.window
        total = await self.counter.add(f"auth-failures:{address}", start, 1, self.window)
        if total >= self.limit:
            self._blocked.put(address, start + self.window)


class TooManyRequests(AuthError):
    """429: a token over its limit, or an address after too many failed authentications. Composer prints
    the `warning`; `Retry-After` says when to come back."""

    def __init__(self, reason: str, warning: str, retry_after: int, token_id: str | None = None) -> None:
        super().__init__(reason, warning, status=429, token_id=token_id)
        self.retry_after = max(1, retry_after)


def over_limit(decision: Decision, token_id: str, now: int) -> TooManyRequests:
    wait = decision.reset - now
    return TooManyRequests(
        "rate-limited",
        f"This token made more than {decision.limit} requests this hour; try again in {_duration(wait)}. "
        "Ask the broker's operator to raise its limit (package-broker token edit ID --rate-limit N).",
        wait,
        token_id=token_id,
    )


def throttled(wait: int) -> TooManyRequests:
    return TooManyRequests(
        "throttled",
        f"Too many failed authentications from this address; try again in {_duration(wait)}. Check the token "
        "in auth.json (composer config --global http-basic.<host> token <your-token>).",
        wait,
    )


def _duration(seconds: int) -> str:
    seconds = max(1, seconds)
    return f"{seconds // 60} min {seconds % 60} s" if seconds >= 60 else f"{seconds} s"
