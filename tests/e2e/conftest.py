"""Every end-to-end test that takes `client` runs once per Composer client (ids `composer-2.5`,
`composer-2.11`, ...); a missing client is skipped locally and fails the test in CI."""

from __future__ import annotations

import pytest

from tests.e2e.composer import CLIENTS, Client


@pytest.fixture(params=CLIENTS, ids=[client.id for client in CLIENTS])
def client(request: pytest.FixtureRequest) -> Client:
    chosen: Client = request.param
    chosen.executable()
    return chosen
