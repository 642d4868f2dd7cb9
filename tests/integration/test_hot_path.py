"""A warm metadata hit is served from this process's memory: no SQL, no key/value read."""

from __future__ import annotations

import io
from typing import Any

from package_broker.artifacts.publish import publish_archive
from package_broker.broker import Broker
from package_broker.web.app import App
from tests.conftest import Client, basic
from tests.helpers import make_zip


class Counting:
    """Wraps an adapter and counts calls of its async methods."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.inner, name)
        if not callable(attribute):
            return attribute

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return attribute(*args, **kwargs)

        return counted


async def test_a_warm_p2_hit_touches_no_storage(broker: Broker) -> None:
    await publish_archive(broker, io.BytesIO(make_zip({"composer.json": {"name": "acme/hot"}})), version="1.0.0")
    _, secret = await broker.tokens.create("reader")
    db, kv = Counting(broker.ports.db), Counting(broker.ports.kv)
    broker.ports.db, broker.ports.kv = db, kv  # type: ignore[assignment]
    broker.catalog.db = broker.tokens.db = db  # type: ignore[assignment]
    broker.cache.kv = kv  # type: ignore[assignment]
    broker.cache._seconds = 60  # as in production: the generation is re-read at most once a second
    client = Client(App(broker))
    for path in ("/p2/acme/hot.json", "/packages.json"):
        cold, _ = await client.request("GET", path, headers=basic(secret))
        assert cold.status == 200
    db.calls.clear()
    kv.calls.clear()
    for path in ("/p2/acme/hot.json", "/p2/acme/hot.json", "/packages.json"):
        warm, _ = await client.request("GET", path, headers=basic(secret))
        assert warm.status == 200
    assert db.calls == [] and kv.calls == []
