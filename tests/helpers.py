"""Builders for real test inputs: git repositories (with the real git CLI) and zip archives."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

from tests.secret_scan import observe_cli

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Run git in `repo` (with `env` added) and return its stdout; fails the test on error."""
    result = subprocess.run(
        ["git", "-C", str(repo), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_ENV, **(env or {})},
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {result.stderr}")
    return result.stdout.strip()


class Repo:
    """A real git repository on disk with helpers to commit composer.json and files, tag and branch."""

    def __init__(self, path: Path, default_branch: str = "main") -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        git(path, "init", "-q", "-b", default_branch)

    def commit(self, files: dict[str, Any], message: str = "change") -> str:
        for name, content in files.items():
            target = self.path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if content is None:
                target.unlink()
                continue
            if isinstance(content, dict):
                content = json.dumps(content, indent=4)
            target.write_text(content)
        git(self.path, "add", "-A")
        git(self.path, "commit", "-q", "--allow-empty", "-m", message)
        return git(self.path, "rev-parse", "HEAD")

    def tag(self, name: str, annotated: bool = False) -> None:
        if annotated:
            git(self.path, "tag", "-a", name, "-m", f"release {name}")
        else:
            git(self.path, "tag", name)

    def checkout(self, branch: str, create: bool = False) -> None:
        git(self.path, "checkout", "-q", *(["-b"] if create else []), branch)

    def head(self) -> str:
        return git(self.path, "rev-parse", "HEAD")


def php_package(name: str, namespace: str, *, require: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    """A composer.json for a tiny installable PHP library."""
    manifest: dict[str, Any] = {
        "name": name,
        "description": f"{name} for tests",
        "type": "library",
        "license": "MIT",
        "autoload": {"psr-4": {f"{namespace}\\": "src/"}},
        "require": require or {"php": ">=8.1"},
    }
    manifest.update(extra)
    return manifest


def make_zip(files: dict[str, bytes | str | dict[str, Any]], *, symlinks: dict[str, str] | None = None) -> bytes:
    """Build a zip in memory: dict values are JSON-encoded, str/bytes written as they are.

    Entries carry a fixed date, so the same files always make the same bytes (and the same sha1): with the
    clock's time, two calls a second apart could differ.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            if isinstance(content, dict):
                content = json.dumps(content)
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, content)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return buffer.getvalue()


#: Environment variables a test's broker must not inherit from the machine running the tests.
BROKER_VARIABLES = ("DB_", "STORAGE_", "CACHE_", "S3_", "ENCRYPTION", "BASE_URL")


#: Commands that may create a broker; any other needs one (tests get one made by `init` first).
CREATING_COMMANDS = ("init", "serve", "migrate", "--version", "--help")


def run_cli(
    data_dir: Path, *args: str, timeout: float = 120, init: bool = True, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run `package-broker ARGS` as a real process on its own DATA_DIR (plus `env`).

    A command that needs an existing broker gets one (`package-broker init`) unless `init` is False.
    """
    environment = {k: v for k, v in os.environ.items() if not k.startswith(BROKER_VARIABLES)}
    environment.update(DATA_DIR=str(data_dir), **env)
    fresh = not (data_dir / "package-broker.sqlite").exists() and "DB_DRIVER" not in env and "DB_URL" not in env
    if init and fresh and args and args[0] not in CREATING_COMMANDS:
        subprocess.run(
            [sys.executable, "-m", "package_broker.runtimes.server.cli", "init"],
            env=environment,
            capture_output=True,
            check=False,
            timeout=timeout,
        )
    result = subprocess.run(
        [sys.executable, "-m", "package_broker.runtimes.server.cli", *args],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
    observe_cli(args, environment, result, env)  # the suite-wide secret scan (tests/secret_scan.py)
    return result


def zip_of_copies(manifest: dict[str, Any], content: bytes, count: int) -> bytes:
    """composer.json and `count` deflated copies of `content` (compressed once, so a zip bomb of hundreds
    of entries takes milliseconds to build)."""
    import struct
    import zlib

    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    packed = compressor.compress(content) + compressor.flush()
    entries = [(b"composer.json", json.dumps(manifest).encode(), 0)]
    entries += [(f"data/{i}.bin".encode(), packed, 8) for i in range(count)]
    out, central = bytearray(), bytearray()
    for name, data, method in entries:
        raw = content if method else data
        crc, size = zlib.crc32(raw), len(raw)
        header = struct.pack("<HHHHHIIIHH", 20, 0, method, 0, 0x21, crc, len(data), size, len(name), 0)
        central += b"PK\x01\x02" + struct.pack("<H", 20) + header + struct.pack("<HHHII", 0, 0, 0, 0, len(out)) + name
        out += b"PK\x03\x04" + header + name + data
    end = struct.pack("<HHHHIIH", 0, 0, len(entries), len(entries), len(central), len(out), 0)
    return bytes(out + central + b"PK\x05\x06" + end)
