"""The server's rate counting in reserved blocks (access/ratelimit.py), two limiters standing for two
processes on one real counter (the broker's SQLite `rate_counters` table): never more than the limit
admitted, each admitted request its own place, and the stated bound on requests refused early when one
process keeps places it never uses."""

from __future__ import annotations

import asyncio

from package_broker.access.ratelimit import RESERVE, DatabaseCounter, RateLimiter
from package_broker.broker import Broker


class FrozenClock:
    def now(self) -> int:
        return 1_800_000_000  # one window for the whole test


async def test_two_processes_never_admit_more_than_the_limit_and_each_request_has_its_place(broker: Broker) -> None:
    counter = DatabaseCounter(broker.ports.db)
    first, second = RateLimiter(counter, FrozenClock()), RateLimiter(counter, FrozenClock())
    limit = 1000

    async def burst(limiter: RateLimiter, n: int) -> list[tuple[bool, int]]:
        decisions = await asyncio.gather(*(limiter.hit("token:t", limit) for _ in range(n)))
        return [(d.allowed, d.remaining) for d in decisions]

    answers: list[tuple[bool, int]] = []
    for _ in range(30):  # interleaved bursts from both, well past the limit
        answers += await burst(first, 37) + await burst(second, 41)

    admitted = sorted(remaining for allowed, remaining in answers if allowed)
    assert admitted == list(range(limit))  # exactly the limit, every place once (both kept sending)
    assert all(remaining == 0 for allowed, remaining in answers if not allowed)


async def test_places_a_process_keeps_unused_are_the_only_requests_refused_early(broker: Broker) -> None:
    counter = DatabaseCounter(broker.ports.db)
    idle, busy = RateLimiter(counter, FrozenClock()), RateLimiter(counter, FrozenClock())
    limit = 10_000
    assert (await idle.hit("token:t", limit)).allowed  # takes place 1, reserves (limit - 1) // 16 more
    stranded = min(RESERVE, (limit - 1) // 16)
    allowed = 0
    while (await busy.hit("token:t", limit)).allowed:
        allowed += 1
    # The idle process never uses its reserved places: exactly those are refused early, nothing else.
    assert allowed == limit - 1 - stranded
    assert stranded <= RESERVE
