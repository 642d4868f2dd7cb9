"""Driving real `composer` clients in scratch PHP projects, and the scenario every runtime must pass with
each of them. A `Target` is a running broker plus a way to release versions into it; a `Client` is one
`composer`: Debian 12's (2.5) and the newest, unpacked from Debian unstable by `scripts/setup --test`."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx

from tests.conftest import ROOT, basic, unavailable

#: The wrapper `scripts/setup --test` writes around the newest Composer from Debian unstable.
NEWEST_COMPOSER = ROOT / ".cache" / "composer-sid" / "composer"


class Target(Protocol):
    url: str

    def token(self, permission: str = "readonly") -> str: ...

    def release(self, name: str, version: str, files: dict[str, Any]) -> None:
        """Make `version` of package `name` installable (files: path -> content, composer.json included)."""

    def withdraw(self, name: str, version: str) -> None:
        """Remove a version upstream (e.g. delete the git tag) and sync, so metadata no longer lists it."""

    def requests(self) -> list[dict[str, Any]]:
        """The broker's JSON request log lines so far."""


@dataclass(frozen=True)
class Client:
    """One `composer` executable: which one (`name`), the version it reports, or why it cannot be used."""

    name: str
    path: str
    version: str = ""
    problem: str = ""

    @property
    def id(self) -> str:
        """The test id: `composer-` and the major.minor version it reports (`composer-2.11`), else its name."""
        return "composer-" + (".".join(self.version.split(".")[:2]) or self.name)

    def executable(self) -> str:
        """Its path; skips the test locally, fails it in CI, when the client is missing or broken."""
        if self.problem:
            unavailable(f"the {self.name} composer: {self.problem}")
        return self.path


def find_client(name: str, path: str) -> Client:
    if not os.access(path, os.X_OK):
        return Client(name, path, problem=f"{path} is not installed (scripts/setup --test installs it)")
    env = {**os.environ, "COMPOSER_ALLOW_SUPERUSER": "1", "COMPOSER_NO_INTERACTION": "1"}
    result = subprocess.run([path, "--version", "--no-ansi"], capture_output=True, text=True, env=env, timeout=60)
    found = re.search(r"^Composer version (\d+\.\d+\.\d+)", result.stdout, re.MULTILINE)
    if result.returncode != 0 or found is None:
        return Client(name, path, problem=f"`{path} --version` failed:\n{result.stdout}\n{result.stderr}")
    return Client(name, path, found.group(1))


#: Every end-to-end test that takes the `client` fixture (tests/e2e/conftest.py) runs against each of these.
CLIENTS = (
    find_client("system", shutil.which("composer") or "composer"),  # Debian 12's: 2.5.5
    find_client("newest", str(NEWEST_COMPOSER)),
)


def php_ini_without_curl(tmp: Path) -> Path:
    """A PHP_INI_SCAN_DIR with every extension Debian enables except curl: Composer then uses PHP streams."""
    scan = tmp / "php-no-curl"
    scan.mkdir(exist_ok=True)
    for ini in Path("/etc/php/8.2/cli/conf.d").glob("*.ini"):
        if "curl" not in ini.name and not (scan / ini.name).exists():
            (scan / ini.name).symlink_to(ini)
    return scan


class Project:
    """A scratch PHP project using the broker as its only repository."""

    def __init__(
        self,
        root: Path,
        target: Target,
        secret: str,
        client: Client,
        *,
        transport: str = "curl",
        home: Path | None = None,
    ):
        self.root = root
        self.target = target
        self.client = client
        root.mkdir(parents=True, exist_ok=True)
        self.home = home or root.parent / "composer-home"
        self.env = {
            **os.environ,
            "COMPOSER_HOME": str(self.home),
            "COMPOSER_CACHE_DIR": str(self.home / "cache"),
            "COMPOSER_NO_INTERACTION": "1",
            "COMPOSER_ALLOW_SUPERUSER": "1",
            "COMPOSER_DISABLE_XDEBUG_WARN": "1",
        }
        if transport == "streams":
            self.env["PHP_INI_SCAN_DIR"] = str(php_ini_without_curl(root.parent))
        self.set_token(secret)

    def set_token(self, secret: str) -> None:
        origin = self.target.url.split("://", 1)[1].rstrip("/")
        (self.root / "auth.json").write_text(
            json.dumps({"http-basic": {origin: {"username": "token", "password": secret}}})
        )

    def write(self, require: dict[str, str]) -> None:
        manifest = {
            "name": "scratch/project",
            "type": "project",
            "require": require,
            "repositories": [{"type": "composer", "url": self.target.url}, {"packagist.org": False}],
            "config": {"secure-http": False},
        }
        (self.root / "composer.json").write_text(json.dumps(manifest, indent=2))

    def composer(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [self.client.executable(), *args, "--no-ansi", "-v"],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"{self.client.id} {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        if check:
            # A correct repository draws no warnings from any client (newer ones check more of the metadata),
            # except the one about plain HTTP, which the tests use on 127.0.0.1.
            warnings = [
                line
                for line in (result.stdout + result.stderr).splitlines()
                if re.search(r"warning|deprecat", line, re.IGNORECASE) and "over http which is an insecure" not in line
            ]
            assert not warnings, f"{self.client.id} {' '.join(args)} warned:\n" + "\n".join(warnings)
        return result

    def locked(self) -> dict[str, dict[str, Any]]:
        lock = json.loads((self.root / "composer.lock").read_text())
        return {p["name"]: p for p in lock["packages"]}

    def php(self, code: str) -> str:
        script = self.root / "run.php"
        script.write_text("<?php require __DIR__ . '/vendor/autoload.php';\n" + code)
        result = subprocess.run(["php", str(script)], capture_output=True, text=True, env=self.env, check=True)
        return result.stdout

    def reset(self, *, lock: bool = False, cache: bool = False) -> None:
        shutil.rmtree(self.root / "vendor", ignore_errors=True)
        if lock:
            (self.root / "composer.lock").unlink(missing_ok=True)
        if cache:
            shutil.rmtree(self.home / "cache", ignore_errors=True)


def lib_files(version_text: str) -> dict[str, Any]:
    return {
        "composer.json": {
            "name": "acme/lib",
            "description": "Acme library",
            "license": "MIT",
            "autoload": {"psr-4": {"Acme\\Lib\\": "src/"}},
            "require": {"php": ">=8.1"},
        },
        "src/Hello.php": "<?php\nnamespace Acme\\Lib;\nfinal class Hello { public static function hi(): string "
        f"{{ return '{version_text}'; }} }}\n",
    }


KIT_FILES: dict[str, Any] = {
    "composer.json": {
        "name": "acme/kit",
        "description": "Acme kit, depends on acme/lib",
        "license": "MIT",
        "require": {"acme/lib": "^1.0"},
        "autoload": {"psr-4": {"Acme\\Kit\\": "src/"}},
        "extra": {"branch-alias": {"dev-main": "2.0.x-dev"}},
    },
    "src/Kit.php": "<?php\nnamespace Acme\\Kit;\nfinal class Kit { public static function run(): string "
    "{ return 'kit+' . \\Acme\\Lib\\Hello::hi(); } }\n",
}


def wait_until(condition: Callable[[], bool], what: str, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def visible(target: Target, secret: str, name: str, version: str) -> bool:
    dev = version.startswith("dev-") or version.endswith("-dev")
    response = httpx.get(f"{target.url}/p2/{name}{'~dev' if dev else ''}.json", headers=basic(secret))
    return response.status_code == 200 and f'"version":"{version}"' in response.text


def run_scenario(target: Target, tmp: Path, client: Client, *, transport: str = "curl") -> None:
    """The scenario of issue 2 (and 3): install, update after a release, 304 revalidation, wrong token,
    lock-file install after the tag is withdrawn. Asserts at every step."""
    secret = target.token("readonly")
    target.release("acme/lib", "v1.0.0", lib_files("lib 1.0"))
    target.release("acme/kit", "dev-main", KIT_FILES)
    wait_until(lambda: visible(target, secret, "acme/kit", "dev-main"), "acme/kit dev-main")

    # 1. install: acme/kit as dev-main, acme/lib through kit's ^1.0 constraint.
    project = Project(tmp / "project", target, secret, client, transport=transport)
    project.write({"acme/kit": "dev-main", "acme/lib": "^1.0"})
    project.composer("install")
    assert project.locked()["acme/lib"]["version"] == "v1.0.0"
    assert project.locked()["acme/kit"]["version"] == "dev-main"
    assert project.php("echo \\Acme\\Kit\\Kit::run();") == "kit+lib 1.0"

    # 2. a new tag is released and synced; `composer update` picks it up.
    target.release("acme/lib", "v1.1.0", lib_files("lib 1.1"))
    wait_until(lambda: visible(target, secret, "acme/lib", "v1.1.0"), "acme/lib v1.1.0")
    project.composer("update")
    assert project.locked()["acme/lib"]["version"] == "v1.1.0"
    assert project.php("echo \\Acme\\Kit\\Kit::run();") == "kit+lib 1.1"

    # 3. a second install in a fresh project revalidates the cached metadata: 304s in the broker's log.
    seen = len(target.requests())
    second = Project(tmp / "second", target, secret, client, transport=transport, home=project.home)
    second.write({"acme/kit": "dev-main", "acme/lib": "^1.0"})
    second.composer("install")
    revalidated = [r for r in target.requests()[seen:] if r["status"] == 304]
    assert {r["path"] for r in revalidated} >= {"/packages.json", "/p2/acme/lib.json", "/p2/acme/kit~dev.json"}

    # 4. a wrong token: composer fails and shows the broker's warning.
    intruder = Project(
        tmp / "intruder", target, "pkb_" + "0" * 42, client, transport=transport, home=tmp / "intruder-home"
    )
    intruder.write({"acme/lib": "^1.0"})
    failed = intruder.composer("install", check=False)
    assert failed.returncode != 0
    assert "not a PACKAGE.broker token" in failed.stdout + failed.stderr

    # 5. the tag is deleted upstream; the lock file still installs (fresh vendor, empty cache).
    target.withdraw("acme/lib", "v1.1.0")
    wait_until(lambda: not visible(target, secret, "acme/lib", "v1.1.0"), "v1.1.0 to disappear from metadata")
    project.reset(cache=True)
    project.composer("install")
    assert project.php("echo \\Acme\\Lib\\Hello::hi();") == "lib 1.1"


def run_alias_check(target: Target, tmp: Path, client: Client) -> None:
    """extra.branch-alias works: requiring 2.0.x-dev resolves to acme/kit dev-main."""
    secret = target.token("readonly")
    project = Project(tmp / "alias", target, secret, client)
    project.write({"acme/kit": "2.0.x-dev"})
    project.composer("update")
    locked = project.locked()["acme/kit"]
    assert locked["version"] == "dev-main"
    assert locked["extra"]["branch-alias"] == {"dev-main": "2.0.x-dev"}
