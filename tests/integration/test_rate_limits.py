"""Request limits per token and throttled guessing, against real server processes: exact under concurrency
on SQLite and on PostgreSQL + Redis, with one and two worker processes; the headers Composer and scripts
read; a guessing address is throttled while a valid token from another address is not."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from package_broker.access.tokens import generate
from tests.conftest import BrokerServer, basic
from tests.contract.services import REDIS_URL, postgres_database, redis_prefix

LIMIT = 1000
REQUESTS = 2000
CLIENTS = 50


@pytest.fixture(params=["sqlite", "postgresql+redis"])
def backend(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    if request.param == "sqlite":
        yield {}
        return
    with postgres_database() as url, redis_prefix() as prefix:
        yield {
            "DB_DRIVER": "postgresql",
            "DB_URL": url,
            "CACHE_DRIVER": "redis",
            "CACHE_URL": REDIS_URL,
            "CACHE_PREFIX": prefix,
        }


def _hammer(url: str, headers: dict[str, str], total: int, clients: int) -> list[httpx.Response]:
    """`total` GETs from `clients` threads at once (each with its own keep-alive connection)."""
    answers: list[httpx.Response] = []
    lock = threading.Lock()
    start = threading.Barrier(clients)

    def client(n: int) -> None:
        with httpx.Client(headers=headers, timeout=60) as http:
            start.wait()
            mine = [http.get(url) for _ in range(n)]
        with lock:
            answers.extend(mine)

    share = [total // clients + (1 if i < total % clients else 0) for i in range(clients)]
    threads = [threading.Thread(target=client, args=(n,)) for n in share]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


@pytest.mark.parametrize("workers", ["1", "2"])
def test_exactly_the_limit_succeeds_under_concurrency(
    server_factory: Any, backend: dict[str, str], workers: str
) -> None:
    server: BrokerServer = server_factory("limits", RATE_LIMIT=str(LIMIT), WORKERS=workers, **backend)
    secret = server.token("readonly")

    answers = _hammer(f"{server.url}/packages.json", basic(secret), REQUESTS, CLIENTS)

    statuses = Counter(a.status_code for a in answers)
    assert statuses == {200: LIMIT, 429: REQUESTS - LIMIT}, statuses
    refused = next(a for a in answers if a.status_code == 429)
    assert int(refused.headers["retry-after"]) >= 1
    assert "more than 1000 requests this hour" in refused.json()["warning"]
    assert refused.headers["x-ratelimit-limit"] == "1000" and refused.headers["x-ratelimit-remaining"] == "0"
    remaining = sorted(int(a.headers["x-ratelimit-remaining"]) for a in answers if a.status_code == 200)
    assert remaining == list(range(LIMIT))  # each success saw its own count: none was counted twice
    assert len({a.headers["x-ratelimit-reset"] for a in answers}) <= 2  # one window (two at an hour's turn)


def test_a_token_without_limit_and_the_headers_every_answer_carries(server_factory: Any) -> None:
    server: BrokerServer = server_factory("unlimited", RATE_LIMIT="0")
    secret = server.token("readonly")
    answer = httpx.get(f"{server.url}/packages.json", headers=basic(secret))
    assert answer.status_code == 200 and "x-ratelimit-limit" not in answer.headers
    limited: BrokerServer = server_factory("limited", RATE_LIMIT="5")
    secret = limited.token("readonly")
    answers = [httpx.get(f"{limited.url}/packages.json", headers=basic(secret)) for _ in range(6)]
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    assert [a.headers["x-ratelimit-remaining"] for a in answers] == ["4", "3", "2", "1", "0", "0"]
    assert all(a.headers["x-ratelimit-limit"] == "5" for a in answers)


def test_a_guessing_address_is_throttled_and_others_are_not(server_factory: Any) -> None:
    server: BrokerServer = server_factory("guessing", AUTH_FAILURE_LIMIT="5", TRUSTED_PROXY_HEADER="x-forwarded-for")
    valid = server.token("readonly")
    guess = generate()  # well formed, checksum right, held by nobody
    attacker = {"x-forwarded-for": "198.51.100.7"}  # as the proxy reports the client's address
    other = {"x-forwarded-for": "spoofed-by-client, 203.0.113.9"}  # only the proxy's (last) entry counts

    tries = [httpx.get(f"{server.url}/packages.json", headers={**basic(guess), **attacker}) for _ in range(7)]

    assert [t.status_code for t in tries] == [401] * 5 + [429, 429]
    assert "Too many failed authentications" in tries[-1].json()["warning"]
    assert int(tries[-1].headers["retry-after"]) > 0
    blocked = httpx.get(f"{server.url}/packages.json", headers={**basic(valid), **attacker})
    assert blocked.status_code == 429  # the guessing address waits, whatever it sends now
    fine = httpx.get(f"{server.url}/packages.json", headers={**basic(valid), **other})
    assert fine.status_code == 200
    lines = [r for r in server.requests() if r["status"] == 429]
    assert lines and all(r.get("refused") == "throttled" for r in lines)
