"""A warm metadata hit is served from this process's memory: no SQL, no key/value read. Its rate count
takes a place this process reserved with an earlier count write (access/ratelimit.py: a write reserves up
to 1/16 of what is left of the limit), so the counter is written once per block of requests, not per hit.

Every call through a port is charged to the running budget (package_broker/ports/metered.py), so the
budget is the counter: a cold request must show calls, a warm one only that count.
"""

from __future__ import annotations

import io

from package_broker.artifacts.publish import publish_archive
from package_broker.broker import Broker
from package_broker.budget import Budget, spending
from package_broker.web.app import App
from tests.conftest import Client, basic
from tests.helpers import make_zip


async def test_a_warm_p2_hit_touches_no_storage_and_counts_in_reserved_blocks(broker: Broker) -> None:
    await publish_archive(broker, io.BytesIO(make_zip({"composer.json": {"name": "acme/hot"}})), version="1.0.0")
    _, secret = await broker.tokens.create("reader")
    broker.cache._seconds = 60  # as in production: the generation is re-read at most once per MEMO_SECONDS
    client = Client(App(broker))
    with spending(Budget()) as cold:
        for path in ("/p2/acme/hot.json", "/packages.json"):
            response, _ = await client.request("GET", path, headers=basic(secret))
            assert response.status == 200
    assert cold.used_services >= 3  # the generation, the token, the package: the counter does count
    with spending(Budget()) as warm:
        for path in ("/p2/acme/hot.json", "/p2/acme/hot.json", "/packages.json"):
            response, _ = await client.request("GET", path, headers=basic(secret))
            assert response.status == 200
    assert (warm.used_services, warm.used_fetches) == (0, 0)  # counted in places the cold count reserved
    # Limit 1000: the first write took place 1 and reserved (1000 - 1) // 16 = 62 more; 5 are used. The
    # next 100 requests use the other 58, then one write takes the next block.
    with spending(Budget()) as later:
        answers = [(await client.request("GET", "/p2/acme/hot.json", headers=basic(secret)))[0] for _ in range(100)]
    assert later.used_services == 1
    remaining = [int(a.header("x-ratelimit-remaining") or -1) for a in answers]
    assert remaining == list(range(1000 - 6, 1000 - 106, -1))  # each its own place, in order, none skipped


async def test_without_a_rate_limit_a_warm_hit_touches_nothing(broker: Broker) -> None:
    await publish_archive(broker, io.BytesIO(make_zip({"composer.json": {"name": "acme/hot"}})), version="1.0.0")
    _, secret = await broker.tokens.create("reader", rate_limit=0)
    broker.cache._seconds = 60
    client = Client(App(broker))
    for path in ("/p2/acme/hot.json", "/packages.json"):  # cold
        await client.request("GET", path, headers=basic(secret))
    with spending(Budget()) as warm:
        for path in ("/p2/acme/hot.json", "/p2/acme/hot.json", "/packages.json"):
            response, _ = await client.request("GET", path, headers=basic(secret))
            assert response.status == 200
    assert (warm.used_services, warm.used_fetches) == (0, 0)
