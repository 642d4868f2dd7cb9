"""A warm metadata hit is served from this process's memory: no SQL, no key/value read, except the one
round trip that counts the token's requests against its rate limit (access/ratelimit.py).

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


async def test_a_warm_p2_hit_touches_no_storage_but_its_rate_count(broker: Broker) -> None:
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
    assert (warm.used_services, warm.used_fetches) == (3, 0)  # one rate-limit count per request, nothing else


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
