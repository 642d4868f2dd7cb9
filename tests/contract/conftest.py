"""One fixture per port, parametrized over every adapter that can run here; the same tests run on each.

The Worker's adapters (D1, Workers KV, R2) run only inside Pyodide: tests/worker/adapters.test.mjs
checks the same behaviours there.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from package_broker.runtimes.server.filesystem import FilesystemObjectStore
from package_broker.runtimes.server.memory_kv import MemoryKVStore
from package_broker.runtimes.server.sqlite import SqliteDatabase
from package_broker.runtimes.server.sqlite_kv import SqliteKVStore


@pytest.fixture(params=["memory", "sqlite"])
async def kv(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    if request.param == "memory":
        yield MemoryKVStore()
    else:
        store = SqliteKVStore(str(tmp_path / "kv.sqlite"))
        yield store
        await store.aclose()


@pytest.fixture(params=["sqlite"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    database = await SqliteDatabase.open(str(tmp_path / "db.sqlite"))
    yield database
    await database.close()


@pytest.fixture(params=["filesystem"])
async def objects(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    yield FilesystemObjectStore(str(tmp_path / "objects"))
