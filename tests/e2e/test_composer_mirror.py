"""Real `composer` clients through `package-broker serve` lazily mirroring a packagist look-alike that
serves real PHP libraries (tests/fixtures/packagist.py): a project mixing private and mirrored packages,
a public twin of a private package that must not win, `composer audit` reporting the upstream's advisory,
and a second install from a clean cache after the upstream is gone."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import BrokerServer, basic, require_tool
from tests.e2e.composer import Client, Project
from tests.fixtures.packagist import Packagist, available_libraries
from tests.helpers import make_zip, php_package

pytestmark = pytest.mark.e2e

MIRRORED = ("psr/log", "composer/semver", "symfony/console", "symfony/string", "symfony/service-contracts")


class MirrorTarget:
    """A Project target: the broker's URL (its releases come from the fixture and uploads, not `release`)."""

    def __init__(self, server: BrokerServer) -> None:
        self.server = server
        self.url = server.url


@pytest.fixture
def upstream(tmp_path: Path) -> Iterator[Packagist]:
    missing = [n for n in MIRRORED if n not in available_libraries()]
    if missing:
        pytest.fail(f"Debian PHP libraries missing: {missing} (scripts/setup --test installs them)")
    fixture = Packagist(tmp_path / "packagist").start()
    yield fixture
    fixture.stop()


def publish_private(server: BrokerServer, secret: str, name: str, version: str, text: str) -> None:
    manifest = php_package(name, "Acme\\Lib")
    source = (
        "<?php\nnamespace Acme\\Lib;\nfinal class Hello { public static function hi(): string "
        f"{{ return '{text}'; }} }}\n"
    )
    response = httpx.post(
        f"{server.url}/api/artifacts?version={version}",
        content=make_zip({"composer.json": manifest, "src/Hello.php": source}),
        headers={**basic(secret), "content-type": "application/zip"},
        timeout=30,
    )
    assert response.status_code == 201, response.text


def test_mixed_install_private_wins_audit_and_upstream_gone(
    server: BrokerServer, upstream: Packagist, tmp_path: Path, client: Client
) -> None:
    require_tool("php")
    require_tool("unzip")
    for name in MIRRORED + ("symfony/deprecation-contracts", "psr/container"):
        upstream.publish_library(name)
    vulnerable = upstream.publish_library("psr/log", "1.1.3")["version"]
    upstream.add_advisory("psr/log", "<1.1.4", "Fixture advisory: psr/log before 1.1.4")
    # The public twin of the private package, higher-versioned: dependency confusion bait.
    upstream.publish(
        "acme/lib",
        "9.9.9",
        {
            "src/Hello.php": "<?php\nnamespace Acme\\Lib;\nfinal class Hello { public static function hi(): string "
            "{ return 'PUBLIC TWIN'; } }\n"
        },
        php_package("acme/lib", "Acme\\Lib"),
    )
    server.cli("source", "add", "packagist", upstream.url)
    publish_private(server, server.token("write"), "acme/lib", "1.0.0", "private 1.0")
    secret = server.token("readonly")

    project = Project(tmp_path / "project", MirrorTarget(server), secret, client)  # type: ignore[arg-type]
    project.env["COMPOSER_NO_SECURITY_BLOCKING"] = "1"  # Composer >= 2.9 would refuse the vulnerable psr/log
    project.write({"acme/lib": ">=1.0", "psr/log": vulnerable, "composer/semver": "*", "symfony/console": "*"})
    project.composer("update", "--no-audit")
    locked = project.locked()
    assert locked["acme/lib"]["version"] == "1.0.0"  # the private package, not the public 9.9.9
    assert locked["psr/log"]["version"] == vulnerable
    assert {"symfony/string", "symfony/service-contracts", "psr/container"} <= set(locked)
    for name in locked:
        assert locked[name]["dist"]["url"].startswith(server.url + "/dists/"), locked[name]["dist"]
    assert upstream.asked("/p2/acme/lib.json") == 0
    assert (
        project.php(
            "echo \\Acme\\Lib\\Hello::hi(), ' ', \\Psr\\Log\\LogLevel::ERROR, ' ', "
            "\\Composer\\Semver\\Semver::satisfies('1.2.0', '^1.0') ? 'yes' : 'no';"
        )
        == "private 1.0 error yes"
    )

    # composer audit through the broker reports the upstream's advisory for the mirrored version.
    audit = project.composer("audit", "--format=json", check=False)
    assert audit.returncode != 0, audit.stdout
    report = json.loads(audit.stdout[audit.stdout.index("{") :])
    titles = [a["title"] for a in report["advisories"]["psr/log"]]
    assert titles == ["Fixture advisory: psr/log before 1.1.4"]
    assert "acme/lib" not in report["advisories"]

    # The upstream goes away: the lock file installs again from an empty Composer cache, and so does a
    # fresh resolution of the same requirements.
    upstream.stop()
    project.reset(cache=True)
    project.composer("install")
    assert project.php("echo \\Psr\\Log\\LogLevel::ERROR;") == "error"
    project.reset(lock=True, cache=True)
    project.composer("update", "--no-audit")
    assert project.locked()["acme/lib"]["version"] == "1.0.0"
