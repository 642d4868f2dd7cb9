"""Lazy mirror benchmark: `composer update` of a 40-package project (real PHP libraries, from
tests/fixtures/packagist.py) straight from the upstream served by nginx, against the same through the
broker cold (nothing mirrored yet: every p2 file and dist fetched from nginx on first request) and warm
(everything mirrored before). Composer's cache is empty in every run; each figure is the median of
--runs runs (at least 3), and the ratios are broker / nginx.

    .venv/bin/python -m bench.mirror [--runs 3] [--packages 40] [--composer PATH] [--save]

Targets: warm broker <= 1.0 x nginx (the upstream answers from static files; the broker must not be the
slower part of an install once it has the packages).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import results as results_module
from bench.servers import free_port, start_broker, start_nginx, stop
from tests.e2e.composer import NEWEST_COMPOSER
from tests.fixtures.packagist import DEBIAN_LIBRARIES, Packagist, available_libraries

ROOT = Path(__file__).resolve().parents[1]


def project_names(count: int) -> list[str]:
    """`count` libraries whose requirements are all among them (the project requires each)."""
    available = available_libraries()
    if len(available) < count:
        raise SystemExit(f"only {len(available)} Debian PHP libraries installed; scripts/setup --test installs them")
    needed = set(available[:count])
    for name in list(needed):
        needed |= set(DEBIAN_LIBRARIES[name][2])
    required = {r for n in needed for r in DEBIAN_LIBRARIES[n][2]}
    for name in sorted(needed, reverse=True):  # back to `count`: drop leaves nothing else requires
        if len(needed) <= count:
            break
        if name not in required and not DEBIAN_LIBRARIES[name][2]:
            needed.remove(name)
    return sorted(needed)


class Broker:
    """`package-broker serve` with a fresh DATA_DIR and a lazy mirror of `upstream`."""

    def __init__(self, work: Path, upstream: str) -> None:
        self.data = Path(tempfile.mkdtemp(prefix="broker-", dir=work))
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DB_", "STORAGE_", "CACHE_", "BASE_URL"))},
            "DATA_DIR": str(self.data),
            "SYNC_INTERVAL": "0",
            "LOG_LEVEL": "warning",
            "RATE_LIMIT": "0",
            "MIRROR_NAMES_PER_MINUTE": "0",
        }
        self.cli("init")
        self.cli("source", "add", "packagist", upstream)
        self.secret = json.loads(self.cli("token", "create", "-d", "bench", "--json"))["token"]
        self.process, self.url = start_broker(self.env)

    def cli(self, *args: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "package_broker.runtimes.server.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout


def install(composer: str, work: Path, url: str, names: list[str], secret: str | None) -> float:
    """Seconds `composer update` takes for a fresh project requiring `names`, with an empty cache."""
    project = Path(tempfile.mkdtemp(prefix="project-", dir=work))
    manifest = {
        "name": "bench/project",
        "require": {name: "*" for name in names},
        "repositories": [{"type": "composer", "url": url}, {"packagist.org": False}],
        "config": {"secure-http": False},
    }
    (project / "composer.json").write_text(json.dumps(manifest))
    if secret:
        host = url.split("://", 1)[1]
        (project / "auth.json").write_text(
            json.dumps({"http-basic": {host: {"username": "token", "password": secret}}})
        )
    env = {
        **os.environ,
        "COMPOSER_HOME": str(project / ".home"),
        "COMPOSER_CACHE_DIR": str(project / ".cache"),
        "COMPOSER_NO_INTERACTION": "1",
        "COMPOSER_ALLOW_SUPERUSER": "1",
        "COMPOSER_NO_SECURITY_BLOCKING": "1",
    }
    started = time.perf_counter()
    result = subprocess.run(
        [composer, "update", "--no-audit", "--no-progress", "--no-ansi"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"composer update from {url} failed:\n{result.stdout}\n{result.stderr}")
    installed = json.loads((project / "composer.lock").read_text())["packages"]
    if len(installed) != len(names):
        raise SystemExit(f"installed {len(installed)} packages, expected {len(names)}")
    shutil.rmtree(project, ignore_errors=True)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--packages", type=int, default=40)
    parser.add_argument("--composer", default=str(NEWEST_COMPOSER) if NEWEST_COMPOSER.exists() else "composer")
    parser.add_argument("--save", action="store_true", help="write bench/results/mirror.json")
    args = parser.parse_args()
    if args.runs < 3:
        raise SystemExit("--runs must be at least 3")
    if not shutil.which("nginx"):
        raise SystemExit("nginx is not installed: apt install nginx-light")
    names = project_names(args.packages)

    os.umask(0o022)  # nginx's worker (www-data) must read the tree
    work = Path(tempfile.mkdtemp(prefix="bench-mirror-"))
    work.chmod(0o755)
    nginx_port = free_port()
    upstream_url = f"http://127.0.0.1:{nginx_port}"
    fixture = Packagist(work / "static", base_url=upstream_url)
    for name in names:
        fixture.publish_library(name)
    nginx = None
    brokers: list[Broker] = []
    try:
        nginx, _ = start_nginx(work, work / "static", workers=1, port=nginx_port, connections=1024)
        direct, cold, warm = [], [], []
        warm_broker = Broker(work, upstream_url)
        brokers.append(warm_broker)
        install(args.composer, work, warm_broker.url, names, warm_broker.secret)  # mirrors everything once
        for run in range(args.runs):
            direct.append(install(args.composer, work, upstream_url, names, None))
            fresh = Broker(work, upstream_url)
            brokers.append(fresh)
            cold.append(install(args.composer, work, fresh.url, names, fresh.secret))
            stop(fresh.process)
            warm.append(install(args.composer, work, warm_broker.url, names, warm_broker.secret))
            print(
                f"run {run + 1}: nginx {direct[-1]:.2f} s, broker cold {cold[-1]:.2f} s, broker warm {warm[-1]:.2f} s",
                file=sys.stderr,
            )
        nginx_s, cold_s, warm_s = (statistics.median(x) for x in (direct, cold, warm))
        print(f"composer update of {len(names)} packages, empty Composer cache, median of {args.runs} runs:")
        print(f"  straight from the upstream (nginx): {nginx_s:.2f} s")
        print(f"  through the broker, cold:          {cold_s:.2f} s = {cold_s / nginx_s:.2f} x nginx")
        print(f"  through the broker, warm:          {warm_s:.2f} s = {warm_s / nginx_s:.2f} x nginx (target <= 1.0)")
        if args.save:
            figures = {
                "table": [
                    {
                        "what": f"composer update of {len(names)} packages via the lazy mirror, cold / nginx",
                        "figure": f"{cold_s / nginx_s:.2f} x ({cold_s:.2f} s vs {nginx_s:.2f} s)",
                        "target": "-",
                    },
                    {
                        "what": f"composer update of {len(names)} packages via the lazy mirror, warm / nginx",
                        "figure": f"{warm_s / nginx_s:.2f} x ({warm_s:.2f} s vs {nginx_s:.2f} s)",
                        "target": "<= 1.0",
                    },
                ],
                "runs": {"nginx": direct, "cold": cold, "warm": warm},
            }
            results_module.save(
                "mirror",
                figures,
                command=" ".join(["python -m bench.mirror", *sys.argv[1:]]),
                leaves_out="network latency to a real packagist.org (both peers are on loopback)",
            )
    finally:
        stop(*(broker.process for broker in brokers), nginx)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
