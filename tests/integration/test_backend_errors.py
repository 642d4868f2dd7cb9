"""A failing backend is a 503 whose text names nothing internal; the detail goes to the log under the
request id the client is given."""

from __future__ import annotations

import logging

import pytest

from package_broker.broker import Broker
from package_broker.errors import BackendError
from tests.conftest import Client, basic

SQL_ERROR = "database write failed: UNIQUE constraint failed: packages.name (database is locked)"


async def test_a_backend_failure_is_a_generic_503_logged_with_the_request_id(
    broker: Broker, client: Client, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _, secret = await broker.tokens.create("reader")

    async def broken(*_: object, **__: object) -> list[dict[str, object]]:
        raise BackendError(SQL_ERROR)

    monkeypatch.setattr(broker.catalog, "search", broken)
    with caplog.at_level(logging.WARNING, logger="package_broker.request"):
        response, body = await client.request(
            "GET", "/search.json", query="q=x", headers={**basic(secret), "x-request-id": "req-503"}
        )
    assert response.status == 503
    text = body.decode()
    for internal in ("UNIQUE", "constraint", "packages.name", "locked", "database"):
        assert internal not in text
    assert "req-503" in text and response.header("x-request-id") == "req-503"
    (record,) = [r for r in caplog.records if getattr(r, "request_id", None) == "req-503"]
    assert SQL_ERROR in record.getMessage()
