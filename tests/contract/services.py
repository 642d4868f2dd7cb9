"""The real services the server's shared backends are tested against: PostgreSQL, Redis and an S3 API.

PostgreSQL and Redis are the machine's own (scripts/test and .ci/run start them); `TEST_POSTGRES_URL` and
`TEST_REDIS_URL` point elsewhere. Each test gets a fresh PostgreSQL database, a fresh Redis key prefix and
a fresh bucket. S3 is moto's server mode, the only S3 API server that installs here. When a service is
missing a test is skipped locally and fails in CI (see `tests.conftest.require_tool`).
"""

from __future__ import annotations

import getpass
import os
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import redis
from psycopg import sql

from tests.conftest import IN_CI, free_port


def _admin_url() -> str:
    """TEST_POSTGRES_URL, else this OS user over TCP (trust, as on CI machines), else over the Unix socket
    (peer authentication, as on a fresh Debian install after scripts/setup created the role)."""
    if os.environ.get("TEST_POSTGRES_URL"):
        return os.environ["TEST_POSTGRES_URL"]
    user = getpass.getuser()
    for url in (
        f"postgresql://{user}@127.0.0.1:5432/postgres",
        f"postgresql://{user}@/postgres?host=/var/run/postgresql",
    ):
        try:
            psycopg.connect(url, connect_timeout=3).close()
            return url
        except psycopg.OperationalError:
            continue
    return f"postgresql://{user}@127.0.0.1:5432/postgres"


POSTGRES_ADMIN_URL = _admin_url()
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
#: Any key pair works with moto; real-looking names keep boto3's credential chain out of the way.
S3_ACCESS_KEY_ID = "pb-test-access-key"
S3_SECRET_ACCESS_KEY = "pb-test-secret-key"


def missing_service(message: str) -> NoReturn:
    """Skip locally, fail in CI: CI must run every backend."""
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


@contextmanager
def postgres_database() -> Iterator[str]:
    """Create `pb_test_<random>` next to the admin database, yield its URL, drop it afterwards."""
    name = f"pb_test_{secrets.token_hex(6)}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        missing_service(f"PostgreSQL is not reachable at TEST_POSTGRES_URL ({exc}); scripts/test starts it")
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield with_database(POSTGRES_ADMIN_URL, name)
        finally:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextmanager
def redis_prefix() -> Iterator[str]:
    """Yield a random key prefix and delete every key under it afterwards."""
    prefix = f"pb_test_{secrets.token_hex(6)}:"
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=5)
    with client:
        try:
            client.ping()
        except redis.RedisError as exc:
            missing_service(f"Redis is not reachable at TEST_REDIS_URL ({exc}); scripts/test starts it")
        try:
            yield prefix
        finally:
            keys = list(client.scan_iter(match=prefix + "*"))
            if keys:
                client.delete(*keys)


class MotoS3:
    """moto's S3 API server on a free local port, in a thread of the test process."""

    def __init__(self) -> None:
        try:
            from moto.server import ThreadedMotoServer
        except ImportError as exc:
            missing_service(f"moto[server] is not installed ({exc}); pip install -e '.[test]'")
        self.port = free_port()
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()
        with socket.create_connection(("127.0.0.1", self.port), timeout=10):
            pass

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self) -> Any:
        import boto3

        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=S3_ACCESS_KEY_ID,
            aws_secret_access_key=S3_SECRET_ACCESS_KEY,
        )

    def new_bucket(self) -> str:
        name = f"pb-test-{secrets.token_hex(6)}"
        client = self.client()
        client.create_bucket(Bucket=name)
        client.close()
        return name

    def stop(self) -> None:
        self.server.stop()
