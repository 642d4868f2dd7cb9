"""Concurrent uploads of one new version, over real HTTP against a real server, on SQLite and PostgreSQL:
exactly one archive wins and is served, every other upload gets a 409, and no database error text (or
anything else internal) reaches a client."""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import BrokerServer, basic
from tests.contract.services import postgres_database
from tests.helpers import make_zip

UPLOADS = 20
#: Words of SQLite, PostgreSQL and D1 error messages: none may appear in a response.
INTERNAL = re.compile(r"database|locked|unique|constraint|sqlite|psycopg|postgres|d1_|traceback", re.IGNORECASE)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    if request.param == "sqlite":
        yield {}
        return
    with postgres_database() as url:
        yield {"DB_DRIVER": "postgresql", "DB_URL": url}


def _upload_all(server: BrokerServer, secret: str, archives: list[bytes], query: str = "") -> list[httpx.Response]:
    """Send every archive at once (one thread each, released together)."""
    start = threading.Barrier(len(archives))
    responses: list[Any] = [None] * len(archives)

    def send(index: int) -> None:
        start.wait()
        responses[index] = httpx.post(
            f"{server.url}/api/artifacts{query}",
            content=archives[index],
            headers={**basic(secret), "content-type": "application/zip"},
            timeout=120,
        )

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(archives))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return responses


def _served(server: BrokerServer, secret: str, name: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{server.url}/p2/{name}.json", headers=basic(secret))
    assert response.status_code == 200, response.text
    return list(response.json()["packages"][name])


@pytest.mark.parametrize("workers", ["1", "4"])
def test_concurrent_uploads_of_one_new_version_publish_exactly_one(
    server_factory: Any, database: dict[str, str], workers: str
) -> None:
    # MEMO_SECONDS=0: the worker that answers the read below must see the publish at once (the memo's own
    # bound is tested in test_cache and the Worker's consistency tests).
    server: BrokerServer = server_factory("race", WORKERS=workers, MEMO_SECONDS="0", **database)
    writer = server.token("write")
    for round in range(3):  # a new package, then new versions of it
        manifest = {"name": "acme/race", "version": f"1.0.{round}"}
        # Some incompressible bytes widen the window between an upload's checks and its write.
        archives = [make_zip({"composer.json": manifest, "data.bin": os.urandom(256 * 1024)}) for _ in range(UPLOADS)]

        responses = _upload_all(server, writer, archives)

        outcome = [(r.status_code, r.text[:200]) for r in responses]
        assert sorted(r.status_code for r in responses) == [201] + [409] * (UPLOADS - 1), outcome
        for response in responses:
            assert not INTERNAL.search(response.text), response.text
            if response.status_code == 409:
                assert "already published" in response.json()["warning"]
        (winner,) = [r.json() for r in responses if r.status_code == 201]
        assert winner["shasum"] in {hashlib.sha1(a).hexdigest() for a in archives}
        (served,) = [v for v in _served(server, writer, "acme/race") if v["version"] == manifest["version"]]
        assert served["dist"]["shasum"] == winner["shasum"]
        dist = httpx.get(served["dist"]["url"], headers=basic(writer))
        assert hashlib.sha1(dist.content).hexdigest() == winner["shasum"]


def test_concurrent_replacements_are_decided_one_at_a_time(server_factory: Any, database: dict[str, str]) -> None:
    """`?replace=1` replaces the version the uploader saw: of several at once, one wins, the others get 409."""
    server: BrokerServer = server_factory("race-replace", WORKERS="4", MEMO_SECONDS="0", **database)
    writer = server.token("write")
    manifest = {"name": "acme/race", "version": "1.0.0"}
    first = make_zip({"composer.json": manifest, "src/A.php": "<?php // first"})
    assert _upload_all(server, writer, [first])[0].status_code == 201
    archives = [make_zip({"composer.json": manifest, "data.bin": os.urandom(256 * 1024)}) for _ in range(8)]

    responses = _upload_all(server, writer, archives, "?replace=1")

    assert all(r.status_code in (201, 409) for r in responses), [(r.status_code, r.text) for r in responses]
    for response in responses:
        assert not INTERNAL.search(response.text), response.text
    winners = [r.json()["shasum"] for r in responses if r.status_code == 201]
    assert winners, "no replacement won"
    (served,) = _served(server, writer, "acme/race")
    # The last winner is served; each winner replaced exactly the version it had read.
    assert served["dist"]["shasum"] in winners
