"""One fixture per port, parametrized over every server adapter; the same tests run on each.

The contract itself is in tests/contract/checks/ (one module of plain async checks per port), which
test_database.py, test_kv.py and test_objects.py run on these fixtures, and tests/worker/contract.test.mjs
runs on the Worker's D1, Workers KV and R2 inside Pyodide.

The shared backends run against real services (see tests/contract/services.py): each PostgreSQL test
gets its own database, each Redis test its own key prefix, each S3 test its own bucket on a moto server
started once per session.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from package_broker.runtimes.server.filesystem import FilesystemObjectStore
from package_broker.runtimes.server.memory_kv import MemoryKVStore
from package_broker.runtimes.server.postgres import PostgresDatabase
from package_broker.runtimes.server.redis_kv import RedisKVStore
from package_broker.runtimes.server.s3 import S3ObjectStore
from package_broker.runtimes.server.sqlite import SqliteDatabase
from package_broker.runtimes.server.sqlite_kv import SqliteKVStore
from tests.contract.services import (
    REDIS_URL,
    S3_ACCESS_KEY_ID,
    S3_SECRET_ACCESS_KEY,
    MotoS3,
    postgres_database,
    redis_prefix,
)

# The checks are plain modules, not test files: ask pytest to explain their failing asserts all the same.
pytest.register_assert_rewrite("tests.contract.checks")


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def kv(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    if request.param == "memory":
        yield MemoryKVStore()
    elif request.param == "sqlite":
        store = SqliteKVStore(str(tmp_path / "kv.sqlite"))
        yield store
        await store.aclose()
    else:
        with redis_prefix() as prefix:
            redis_store = await RedisKVStore.open(REDIS_URL, prefix)
            yield redis_store
            await redis_store.aclose()


@pytest.fixture(params=["sqlite", "postgresql"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    if request.param == "sqlite":
        database: Any = await SqliteDatabase.open(str(tmp_path / "db.sqlite"))
        yield database
        await database.close()
    else:
        with postgres_database() as url:
            database = await PostgresDatabase.open(url)
            yield database
            await database.close()


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[MotoS3]:
    server = MotoS3()
    yield server
    server.stop()


@pytest.fixture(params=["filesystem", "s3"])
async def objects(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    if request.param == "filesystem":
        yield FilesystemObjectStore(str(tmp_path / "objects"))
    else:
        moto: MotoS3 = request.getfixturevalue("moto_s3")
        store = await S3ObjectStore.open(
            moto.new_bucket(),
            endpoint=moto.endpoint,
            access_key_id=S3_ACCESS_KEY_ID,
            secret_access_key=S3_SECRET_ACCESS_KEY,
        )
        yield store
        await store.aclose()


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_pair(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[Any, Any]]:
    """Two independent connections to one database, as two server replicas have."""
    if request.param == "sqlite":
        path = str(tmp_path / "db.sqlite")
        pair: tuple[Any, Any] = (await SqliteDatabase.open(path), await SqliteDatabase.open(path))
        yield pair
    else:
        with postgres_database() as url:
            pair = (await PostgresDatabase.open(url), await PostgresDatabase.open(url))
            yield pair
    for database in pair:
        await database.close()
