"""The broker as users install it: the built wheel, run from a directory that is not the checkout, finds
its migrations (they ship inside the package, where `wrangler d1 migrations` reads them too)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import ROOT
from tests.helpers import BROKER_VARIABLES


def test_the_built_wheel_migrates_and_serves_tokens_from_any_directory(tmp_path: Path) -> None:
    # Built from a copy of what the project tracks: setuptools reuses a build/ folder in the tree it builds,
    # so a module deleted from src/ would still ship from an old build/lib.
    tree = tmp_path / "tree"
    shutil.copytree(ROOT / "src", tree / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tree / name)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "wheel"), str(tree)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "wheel").glob("package_broker-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    shipped = sorted(n.rsplit("/", 1)[1] for n in names if n.startswith("package_broker/schema/"))
    assert shipped == sorted(p.name for p in (ROOT / "src/package_broker/schema").glob("*.sql"))
    assert not [n for n in names if n.startswith(("tests/", "bench/"))]
    modules = {n for n in names if n.endswith(".py")}
    assert modules == {str(p.relative_to(ROOT / "src")) for p in (ROOT / "src/package_broker").rglob("*.py")}

    site = tmp_path / "site"
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert installed.returncode == 0, installed.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith((*BROKER_VARIABLES, "MIGRATIONS_DIR"))}
    env.update(PYTHONPATH=str(site), DATA_DIR=str(tmp_path / "data"))  # the wheel's package, not the checkout's

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "package_broker.runtimes.server.cli", *args],
            cwd=elsewhere,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    where = subprocess.run(
        [sys.executable, "-c", "import package_broker; print(package_broker.__file__)"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.strip().startswith(str(site))
    migrated = cli("migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert "0001_initial.sql" in migrated.stdout + migrated.stderr
    assert cli("token", "create", "-d", "installed").returncode == 0
