"""The real server on the shared backends: PostgreSQL (metadata), Redis (cache) and S3 (archives, moto's S3
API server). Two replicas with separate DATA_DIRs share them, as behind a load balancer. Bad settings for
these drivers stop every command with one line naming the variable and never show a password."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from package_broker.errors import ConfigError
from package_broker.runtimes.server.settings import ServerSettings
from tests.conftest import BrokerServer, basic, free_port
from tests.contract.services import (
    REDIS_URL,
    S3_ACCESS_KEY_ID,
    S3_SECRET_ACCESS_KEY,
    MotoS3,
    postgres_database,
    redis_prefix,
)
from tests.helpers import make_zip, run_cli

MANIFEST: dict[str, Any] = {"name": "acme/shared", "description": "served from shared backends", "version": "1.2.0"}
PASSWORD = "hunter2-do-not-print"


@pytest.fixture(scope="module")
def moto_s3() -> Iterator[MotoS3]:
    server = MotoS3()
    yield server
    server.stop()


@pytest.fixture
def backends(moto_s3: MotoS3) -> Iterator[dict[str, str]]:
    """The environment of a broker on a fresh database, Redis prefix and bucket."""
    with postgres_database() as db_url, redis_prefix() as prefix:
        yield {
            "DB_DRIVER": "postgresql",
            "DB_URL": db_url,
            "CACHE_DRIVER": "redis",
            "CACHE_URL": REDIS_URL,
            "CACHE_PREFIX": prefix,
            "STORAGE_DRIVER": "s3",
            "S3_ENDPOINT": moto_s3.endpoint,
            "S3_BUCKET": moto_s3.new_bucket(),
            "S3_ACCESS_KEY_ID": S3_ACCESS_KEY_ID,
            "S3_SECRET_ACCESS_KEY": S3_SECRET_ACCESS_KEY,
            # Replicas must share the key that seals upstream credentials.
            "ENCRYPTION_KEY": base64.b64encode(os.urandom(32)).decode(),
        }


def test_an_upload_to_one_replica_is_served_by_another(server_factory: Any, backends: dict[str, str]) -> None:
    first: BrokerServer = server_factory("replica-a", **backends)
    second: BrokerServer = server_factory("replica-b", **backends)
    writer = first.token("write")
    reader = second.token("readonly")

    data = make_zip({"composer.json": MANIFEST, "src/Shared.php": "<?php\n" + "// padding\n" * 5000})
    sha1 = hashlib.sha1(data).hexdigest()
    response = httpx.post(
        f"{first.url}/api/artifacts",
        content=data,
        headers={**basic(writer), "content-type": "application/zip"},
        timeout=60,
    )
    assert response.status_code == 201, response.text
    assert response.json()["shasum"] == sha1

    for replica in (second, first):
        root = httpx.get(f"{replica.url}/packages.json", headers=basic(reader))
        assert root.status_code == 200
        assert "acme/shared" in root.json()["available-packages"]
        p2 = httpx.get(f"{replica.url}/p2/acme/shared.json", headers=basic(reader))
        assert p2.status_code == 200
        (version,) = p2.json()["packages"]["acme/shared"]
        assert (version["version"], version["dist"]["shasum"]) == ("1.2.0", sha1)
        assert version["dist"]["url"].startswith(replica.url)
        dist = httpx.get(version["dist"]["url"], headers=basic(reader))
        assert dist.status_code == 200 and dist.headers["content-type"] == "application/zip"
        assert hashlib.sha1(dist.content).hexdigest() == sha1 and dist.content == data

    # Nothing went to the replicas' own directories: the archive is in the bucket, metadata in PostgreSQL.
    for replica in (first, second):
        assert not (replica.data_dir / "artifacts").exists()
        assert not (replica.data_dir / "package-broker.sqlite").exists()
    health = httpx.get(f"{second.url}/health").json()
    assert health["status"] == "ok", health


def test_a_token_revoked_through_one_replica_stops_working_on_the_other(
    server_factory: Any, backends: dict[str, str]
) -> None:
    first: BrokerServer = server_factory("replica-a", **backends)
    second: BrokerServer = server_factory("replica-b", **backends)
    secret = first.token("readonly")
    assert httpx.get(f"{second.url}/packages.json", headers=basic(secret)).status_code == 200  # cached on b
    listed = json.loads(first.cli("token", "list", "--json").stdout)
    (token_id,) = [t["id"] for t in listed if t["description"] == "test readonly"]
    first.cli("token", "revoke", token_id)
    deadline = time.monotonic() + 10
    while httpx.get(f"{second.url}/packages.json", headers=basic(secret)).status_code != 401:
        assert time.monotonic() < deadline, "the revoked token still works on the other replica"
        time.sleep(0.2)


# -- bad configuration -------------------------------------------------------------------------------


def cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    # An explicit key: otherwise the first command also logs that it generated one.
    return run_cli(tmp_path / "data", *args, **{"ENCRYPTION_KEY": base64.b64encode(b"k" * 32).decode(), **env})


@pytest.mark.parametrize(
    ("env", "line", "code"),
    [
        ({"DB_DRIVER": "postgresql"}, "error: DB_URL: DB_DRIVER=postgresql needs DB_URL set", 2),
        (
            {"DB_DRIVER": "pg", "DB_URL": f"mysql://admin:{PASSWORD}@db.example.test/broker"},
            "error: DB_URL: DB_DRIVER=postgresql needs a URL such as postgresql://",
            2,
        ),
        (
            {"DB_DRIVER": "postgres", "DB_URL": f"postgresql://broker:{PASSWORD}@127.0.0.1:{free_port()}/broker"},
            "error: DB_URL: cannot connect to PostgreSQL at broker@127.0.0.1:",
            1,
        ),
        ({"DB_URL": f"postgresql://broker:{PASSWORD}@127.0.0.1/broker"}, "error: DB_URL: DB_DRIVER=sqlite needs", 2),
        ({"STORAGE_DRIVER": "s3"}, "error: S3_BUCKET: STORAGE_DRIVER=s3 needs the name of the bucket", 2),
        (
            {"STORAGE_DRIVER": "s3", "S3_BUCKET": "b", "S3_ACCESS_KEY_ID": "AKIA0000"},
            "error: S3_SECRET_ACCESS_KEY: set S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY together",
            2,
        ),
        (
            {"STORAGE_DRIVER": "s3", "S3_BUCKET": "b", "S3_ENDPOINT": f"https://key:{PASSWORD}@s3.example.test"},
            "error: S3_ENDPOINT: must not contain credentials",
            2,
        ),
        (
            {"CACHE_DRIVER": "redis", "CACHE_URL": f"redis://:{PASSWORD}@127.0.0.1:{free_port()}/0"},
            "error: CACHE_URL: cannot connect to Redis at 127.0.0.1:",
            1,
        ),
        ({"CACHE_DRIVER": "redis", "CACHE_URL": "/var/cache.sqlite"}, "error: CACHE_URL: CACHE_DRIVER=redis needs", 2),
    ],
)
def test_bad_backend_settings_exit_with_one_line_and_no_password(
    tmp_path: Path, env: dict[str, str], line: str, code: int
) -> None:
    for command in (["serve"], ["token", "list"]):
        result = cli(tmp_path, *command, **env)
        assert result.returncode == code, result.stderr
        assert result.stderr.strip().splitlines()[-1].startswith(line), result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "Traceback" not in result.stderr
        assert PASSWORD not in result.stderr + result.stdout


def test_a_missing_bucket_is_named_at_start_up(tmp_path: Path, moto_s3: MotoS3) -> None:
    env = {
        "STORAGE_DRIVER": "s3",
        "S3_ENDPOINT": moto_s3.endpoint,
        "S3_BUCKET": "pb-missing-bucket",
        "S3_ACCESS_KEY_ID": S3_ACCESS_KEY_ID,
        "S3_SECRET_ACCESS_KEY": S3_SECRET_ACCESS_KEY,
    }
    result = cli(tmp_path, "token", "list", **env)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: S3_BUCKET: bucket 'pb-missing-bucket' at {moto_s3.endpoint} does not exist; create it or fix S3_BUCKET"
    )
    assert S3_SECRET_ACCESS_KEY not in result.stderr


# -- settings --------------------------------------------------------------------------------------


def test_driver_aliases_and_defaults_of_the_shared_backends() -> None:
    for alias in ("postgresql", "postgres", "pg"):
        settings = ServerSettings.from_mapping({"DB_DRIVER": alias, "DB_URL": "postgres://u:p@db/broker"})
        assert (settings.db_driver, settings.db_url) == ("postgresql", "postgres://u:p@db/broker")
    redis = ServerSettings.from_mapping({"CACHE_DRIVER": "redis"})
    assert (redis.cache_url, redis.cache_prefix) == ("redis://127.0.0.1:6379/0", "pkb:")
    s3 = ServerSettings.from_mapping(
        {"STORAGE_DRIVER": "s3", "S3_BUCKET": "dists", "S3_SECRET_ACCESS_KEY": "x" * 40, "S3_ACCESS_KEY_ID": "k"}
    )
    assert (s3.s3_bucket, s3.s3_endpoint, s3.s3_region) == ("dists", None, "us-east-1")
    assert "x" * 40 not in repr(s3)
    assert (
        ServerSettings.from_mapping({"STORAGE_DRIVER": "s3", "S3_BUCKET": "b", "S3_REGION": "auto"}).s3_region == "auto"
    )


def test_urls_with_passwords_stay_out_of_settings_reprs_and_errors() -> None:
    settings = ServerSettings.from_mapping(
        {
            "DB_DRIVER": "postgresql",
            "DB_URL": f"postgresql://u:{PASSWORD}@db/broker",
            "CACHE_DRIVER": "redis",
            "CACHE_URL": f"redis://:{PASSWORD}@cache:6379/0",
        }
    )
    assert PASSWORD not in repr(settings)
    with pytest.raises(ConfigError) as caught:
        ServerSettings.from_mapping({"DB_DRIVER": "postgresql", "DB_URL": f"mysql://u:{PASSWORD}@db/broker"})
    assert caught.value.variable == "DB_URL" and PASSWORD not in str(caught.value)
