"""Scale benchmark: a catalogue of 1,000 then 10,000 packages x 20 versions, and how each cost grows.

The catalogue is published through the real upload path (`publish_archive`: zip inspected, manifest
validated, archive stored, catalog and audit written), never with SQL inserts. At each size it measures:

* publish throughput (versions/s, several uploads at once as a CI fleet would send them);
* `packages.json` build time (in process, caches dropped) and size (bytes, gzipped);
* a running server (`package-broker serve`, SQLite + filesystem, 1 worker): cold `p2` latency (first
  request of a package after start: its rows read, its document built), warm `p2` latency and throughput
  (wrk, a few hundred different packages), warm `packages.json` against nginx serving the same bytes;
* the server process's RSS after those runs, and the database size.

Then prints each figure's growth from the first size to the last next to the catalogue's growth:
nothing should grow faster than the catalogue (linear), warm `p2` should stay flat (<= 1.2 x).

    .venv/bin/python -m bench.scale [--sizes 1000,10000] [--versions 20] [--duration 5] [--save]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench import results as results_module
from bench.metadata import wrk
from bench.servers import basic_auth, start_broker, start_nginx, stop
from package_broker.access.store import MAX_RATE_LIMIT
from package_broker.artifacts.publish import publish_archive
from package_broker.broker import Broker
from package_broker.runtimes.server.bootstrap import build_broker, migrate
from tests.conftest import _descendants
from tests.helpers import make_zip

#: Uploads in flight at once while publishing.
CONCURRENCY = 8


def archive(package: int, version: int) -> bytes:
    manifest = {
        "name": f"scale/package-{package:05d}",
        "description": f"Scale benchmark package {package}",
        "license": "MIT",
        "require": {"php": ">=8.1", "psr/log": "^3.0"},
        "autoload": {"psr-4": {f"Scale\\P{package}\\": "src/"}},
    }
    return make_zip({"composer.json": manifest, "src/A.php": f"<?php // {package}.{version}"})


async def publish(broker: Broker, first: int, last: int, versions: int, deadline: float) -> tuple[int, float]:
    """Publish packages first..last-1, `versions` versions each, CONCURRENCY packages at a time, until
    `deadline` (time.monotonic()): no package is started after it. Returns (packages now complete,
    versions per second)."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for p in range(first, last):
        queue.put_nowait(p)
    done: list[int] = []

    async def uploader() -> None:
        while not queue.empty() and time.monotonic() < deadline:
            p = queue.get_nowait()
            for v in range(versions):
                # Deterministic bytes: publishing a version again (a resumed run) changes nothing.
                await publish_archive(broker, io.BytesIO(archive(p, v)), version=f"1.{v}.0")
            done.append(p)

    started = time.perf_counter()
    await asyncio.gather(*(uploader() for _ in range(CONCURRENCY)))
    return first + len(done), len(done) * versions / (time.perf_counter() - started)


async def root_build(broker: Broker, repeats: int = 5) -> tuple[float, int, int]:
    """packages.json for an unrestricted token, built with this process's caches dropped (the names index
    read back from the key/value store or the database, filtered, encoded, gzipped): (best ms of
    `repeats`, bytes, gzipped bytes)."""
    token, _ = await broker.tokens.create("scale-root", rate_limit=0)
    timings = []
    for _ in range(repeats):
        broker.cache.forget()
        await broker.cache.refresh()
        started = time.perf_counter()
        document = await broker.documents.root(token.may_see, token.scope_key, token.updated_at, "http://127.0.0.1")
        timings.append((time.perf_counter() - started) * 1000)
    return min(timings), len(document.body), len(document.gzipped)


def rss_kib(pid: int) -> int:
    total = 0
    for each in [pid, *_descendants(pid)]:
        try:
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure_server(data_dir: Path, work: Path, packages: int, secret: str, duration: int) -> dict[str, float]:
    server, base = start_broker({**os.environ, "DATA_DIR": str(data_dir)}, workers=1)
    nginx = None
    try:
        auth = basic_auth(secret)
        sample = random.Random(packages).sample(range(packages), min(300, packages))
        paths = [f"/p2/scale/package-{p:05d}.json" for p in sample]
        cold: list[float] = []
        with httpx.Client(headers=auth, timeout=60) as http:
            for path in paths[:200]:  # each package's first request since the server started
                started = time.perf_counter()
                http.get(base + path).raise_for_status()
                cold.append((time.perf_counter() - started) * 1000)
            for path in paths[200:]:
                http.get(base + path).raise_for_status()
            root = http.get(base + "/packages.json")
            root.raise_for_status()
        wrk(base, paths, auth, 2, work)
        warm = wrk(base, paths, auth, duration, work)
        wrk(base, ["/packages.json"], auth, 1, work)
        broker_root = wrk(base, ["/packages.json"], auth, duration, work)
        os.umask(0o022)  # building a broker made this process's files private; nginx's www-data reads these
        static = work / "static"
        static.mkdir(mode=0o755, exist_ok=True)
        (static / "packages.json").write_bytes(root.content)
        nginx, nginx_url = start_nginx(work, static, workers=1)
        wrk(nginx_url, ["/packages.json"], auth, 1, work)
        nginx_root = wrk(nginx_url, ["/packages.json"], auth, duration, work)
        return {
            "cold_p2_ms_p50": statistics.median(cold),
            "cold_p2_ms_p99": percentile(cold, 0.99),
            "warm_p2_ms_p50": warm["p50"],
            "warm_p2_ms_p99": warm["p99"],
            "warm_p2_rps": warm["rps"],
            "packages_json_rps": broker_root["rps"],
            "packages_json_nginx_rps": nginx_root["rps"],
            "packages_json_ratio": broker_root["rps"] / nginx_root["rps"],
            "server_rss_mib": rss_kib(server.pid) / 1024,
        }
    finally:
        stop(server, nginx)


def database_mib(data_dir: Path) -> float:
    return sum(p.stat().st_size for p in data_dir.glob("package-broker.sqlite*")) / 2**20


GROWTH = (
    ("publish_versions_per_s", "publish throughput (versions/s)", "flat"),
    ("packages_json_build_ms", "packages.json build (ms, caches dropped)", "<= linear"),
    ("packages_json_bytes", "packages.json size (bytes)", "linear"),
    ("packages_json_gzip_bytes", "packages.json gzipped (bytes)", "linear"),
    ("cold_p2_ms_p50", "cold p2 latency p50 (ms)", "flat"),
    ("warm_p2_ms_p50", "warm p2 latency p50 (ms)", "flat, <= 1.2 x"),
    ("warm_p2_ms_p99", "warm p2 latency p99 (ms)", "flat"),
    ("warm_p2_rps", "warm p2 throughput (req/s)", "flat"),
    ("packages_json_ratio", "warm packages.json, broker / nginx same file", ">= 0.5"),
    ("server_rss_mib", "server RSS after the runs (MiB)", "<= linear"),
    ("database_mib", "database size (MiB)", "linear"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000", help="catalogue sizes, ascending (packages)")
    parser.add_argument("--versions", type=int, default=20)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2, help="measure each size this many times, alternating")
    parser.add_argument("--save", action="store_true", help="write bench/results/scale.json")
    parser.add_argument(
        "--publish-minutes", type=float, default=24 * 60, help="stop publishing after this long; measure what is there"
    )
    parser.add_argument(
        "--keep", type=Path, help="keep the catalogues in this directory (size-N/); sizes already there are reused"
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    for tool in ("wrk", "nginx"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is not installed")
    work = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    work.chmod(0o755)
    keep = args.keep or work
    growing = keep / "growing"
    measured: dict[int, dict[str, float]] = {}

    async def grow(last: int) -> tuple[int, dict[str, float]]:
        broker = await build_broker({"DATA_DIR": str(growing)})
        try:
            await migrate(broker)
            present = len((await broker.catalog.names())[0])
            # The last CONCURRENCY packages of an interrupted run may be incomplete: publish them again.
            first = max(0, present - CONCURRENCY)
            reached, rate = await publish(broker, first, last, args.versions, deadline)
        finally:
            await broker.close()
        return reached, {"publish_versions_per_s": rate}

    async def inspect(data_dir: Path) -> tuple[dict[str, float], str]:
        broker = await build_broker({"DATA_DIR": str(data_dir)})
        try:
            build_ms, size, gzipped = await root_build(broker)
            _, secret = await broker.tokens.create("scale", rate_limit=MAX_RATE_LIMIT)
        finally:
            await broker.close()
        figures = {"packages_json_build_ms": build_ms, "packages_json_bytes": size, "packages_json_gzip_bytes": gzipped}
        return figures, secret

    try:
        # Build every size first (each a copy of the catalogue when it reached that size), then measure
        # them back to back, so the sizes are compared under the same load on the machine.
        deadline = time.monotonic() + args.publish_minutes * 60
        for index, size in enumerate(sizes):
            if (keep / f"size-{size}").exists():
                recorded = keep / f"size-{size}" / "publish-rate.txt"
                rate = float(recorded.read_text()) if recorded.exists() else float("nan")
                measured[size] = {"publish_versions_per_s": rate}
                continue
            print(f"publishing up to {size} packages x {args.versions} versions ...", file=sys.stderr)
            reached, figures = asyncio.run(grow(size))
            if reached < size:  # out of time: measure the catalogue as far as it got
                print(f"  --publish-minutes ran out at {reached} packages", file=sys.stderr)
                sizes[index:] = [reached]
            measured[sizes[index]] = figures
            shutil.copytree(growing, keep / f"size-{sizes[index]}")
            (keep / f"size-{sizes[index]}" / "publish-rate.txt").write_text(str(figures["publish_versions_per_s"]))
            if reached < size:
                break
        # Each size measured `--repeats` times, alternating, the best of each figure kept: the machine's
        # load changes over minutes, and alternating keeps one size from getting all the quiet moments.
        better = {"cold_p2_ms_p50": min, "cold_p2_ms_p99": min, "warm_p2_ms_p50": min, "warm_p2_ms_p99": min}
        for _ in range(args.repeats):
            for size in sizes:
                data_dir = keep / f"size-{size}"
                print(f"measuring {size} packages ...", file=sys.stderr)
                figures, secret = asyncio.run(inspect(data_dir))
                figures.update(measure_server(data_dir, work, size, secret, args.duration))
                figures["database_mib"] = database_mib(data_dir)
                for key, value in figures.items():
                    pick = better.get(key, min if key.endswith("_ms") else max)
                    if key in ("database_mib", "server_rss_mib", "packages_json_bytes", "packages_json_gzip_bytes"):
                        pick = min
                    measured[size][key] = pick(measured[size].get(key, value), value)
                print(f"  {size}: " + ", ".join(f"{k} {v:.2f}" for k, v in figures.items()), file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    first, last = sizes[0], sizes[-1]
    print(f"\nscale benchmark: {args.versions} versions per package; growth {first} -> {last} packages")
    print(f"{'figure':<48} {first:>12} {last:>12} {'growth':>8}  expected")
    table: list[dict[str, str]] = []
    for key, label, expected in GROWTH:
        a, b = measured[first][key], measured[last][key]
        growth = b / a if a else float("nan")
        print(f"{label:<48} {a:>12.2f} {b:>12.2f} {growth:>7.2f}x  {expected} (catalogue x{last / first:.0f})")
        figure = f"{a:.2f} -> {b:.2f} ({growth:.2f} x)"
        if a != a:  # NaN: the smaller catalogue was built by an earlier run that did not record its rate
            figure = f"{b:.2f} while growing {first} -> {last} (the first {first} not recorded)"
        table.append(
            {
                "what": f"{label}, {first} -> {last} packages",
                "figure": figure,
                "target": f"{expected} (catalogue x {last / first:.0f})",
            }
        )
    if args.save:
        figures_out: dict[str, Any] = {"versions": args.versions, "sizes": measured, "table": table}
        results_module.save(
            "scale",
            figures_out,
            command="python -m bench.scale " + " ".join(sys.argv[1:]),
            leaves_out="PostgreSQL/Redis/S3 (SQLite and the filesystem here), tokens with grants (one unrestricted "
            "token), git or Composer-source syncs (uploads only), and more than one worker process",
        )


if __name__ == "__main__":
    main()
