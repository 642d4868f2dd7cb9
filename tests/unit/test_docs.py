"""The README is part of the product: every setting the code reads, every route it serves, and every name
the troubleshooting page promises must be documented there (a test, so docs move with the code)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from package_broker.web import app

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
CONFIG_SOURCES = [
    ROOT / "src/package_broker/config.py",
    ROOT / "src/package_broker/runtimes/server/settings.py",
    ROOT / "src/package_broker/runtimes/server/bootstrap.py",
    ROOT / "src/package_broker/runtimes/cloudflare/worker.py",
]


def variables_read_by_the_code() -> set[str]:
    found: set[str] = set()
    for path in CONFIG_SOURCES:
        text = path.read_text()
        found |= set(re.findall(r'(?:env|environ|mapping)\.get\("([A-Z][A-Z0-9_]+)"', text))
        found |= set(re.findall(r'(?:integer_setting|_driver)\(\s*env, "([A-Z][A-Z0-9_]+)"', text))
        found |= set(re.findall(r'ConfigError\(\s*"([A-Z][A-Z0-9_]+)"', text))
        found |= {
            name
            for names in re.findall(r"for name in \(([^)]*)\)", text)
            for name in re.findall(r'"([A-Z][A-Z0-9_]+)"', names)
        }
    quoted = re.search(r"VARIABLES = \(([^)]*)\)", CONFIG_SOURCES[-1].read_text())  # the Worker's
    assert quoted is not None
    found |= set(re.findall(r'"([A-Z][A-Z0-9_]+)"', quoted[1]))
    return found - {"AWS_REGION", "AWS_DEFAULT_REGION"}  # boto3's own, mentioned as the AWS chain


@pytest.mark.parametrize("variable", sorted(variables_read_by_the_code()))
def test_every_setting_is_in_the_readme(variable: str) -> None:
    assert f"`{variable}`" in README, f"{variable} is read by the code but not documented in README.md"


@pytest.mark.parametrize(("method", "path"), sorted(app._EXACT))
def test_every_route_is_in_the_readme(method: str, path: str) -> None:
    assert f"`{method} {path}" in README, f"{method} {path} is served but not listed in README.md"


@pytest.mark.parametrize(
    "promise",
    [
        # shared/reference/troubleshooting-spec.md: names and defaults the product must make true.
        "ENCRYPTION_KEY",
        "base64 of exactly 32 bytes",
        "DB_DRIVER",
        "DB_URL",
        "STORAGE_DRIVER",
        "CACHE_DRIVER",
        "8080",
        "/health",
        "token",
        "readonly",
        "write",
        "allowed_package_prefixes",
        "./package-broker-data",
        "npx wrangler d1 create package-broker-db",
        "npx wrangler kv namespace create PACKAGE_BROKER_KV",
        "npx wrangler r2 bucket create package-broker-artifacts",
        "npx wrangler deployments list",
        "npx wrangler tail",
        "npx wrangler d1 migrations list package-broker-db --remote",
        "npx wrangler d1 migrations apply package-broker-db --remote",
        "docker logs package-broker",
    ],
)
def test_the_troubleshooting_promises_are_documented(promise: str) -> None:
    assert promise in README
