"""Memory while streaming a large dist: the server's RSS before, during and after a 500 MB download.

A 500 MB zip (stored, random bytes: nothing compresses) is published through the real upload path, then
downloaded from `package-broker serve` (1 worker, filesystem storage) by a client that reads and drops
the bytes; the worker's RSS is sampled every 20 ms. Target: flat, within +-20 MB of where it started,
because a dist is streamed in chunks, never held whole.

    .venv/bin/python -m bench.dist_rss [--megabytes 500] [--save]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import httpx

from bench import results
from bench.servers import basic_auth, start_broker, stop
from package_broker.artifacts.publish import publish_archive
from package_broker.runtimes.server.bootstrap import build_broker, migrate
from tests.conftest import _descendants


def make_archive(path: Path, megabytes: int) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("composer.json", '{"name": "bench/huge"}')
        with archive.open("blob.bin", "w", force_zip64=True) as blob:
            for _ in range(megabytes):
                blob.write(os.urandom(1024 * 1024))


async def publish(data_dir: Path, archive: Path) -> tuple[str, str]:
    """Publish the archive; return (dist path, readonly token)."""
    broker = await build_broker({"DATA_DIR": str(data_dir), "MAX_UPLOAD_BYTES": str(2**40)})
    try:
        await migrate(broker)
        with archive.open("rb") as file:
            published = await publish_archive(broker, file, version="1.0.0")
        _, secret = await broker.tokens.create("rss", rate_limit=0)
    finally:
        await broker.close()
    return f"/dists/{published.name}/{published.reference}.zip", secret


def worker_rss_mib(pid: int) -> float:
    """RSS of the server's worker process (the largest of its descendants)."""
    sizes = []
    for each in _descendants(pid)[1:] or [pid]:
        try:
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    sizes.append(int(line.split()[1]) / 1024)
        except OSError:
            pass
    return max(sizes, default=0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--megabytes", type=int, default=500)
    parser.add_argument("--save", action="store_true", help="write bench/results/dist_rss.json")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-rss-"))
    server = None
    try:
        archive = work / "huge.zip"
        print(f"building a {args.megabytes} MB archive and publishing it ...", file=sys.stderr)
        make_archive(archive, args.megabytes)
        path, secret = asyncio.run(publish(work / "data", archive))
        archive.unlink()
        server, base = start_broker({**os.environ, "DATA_DIR": str(work / "data")}, workers=1)
        auth = basic_auth(secret)
        httpx.get(base + "/packages.json", headers=auth).raise_for_status()  # warm: imports, caches
        time.sleep(0.5)
        before = worker_rss_mib(server.pid)
        samples: list[float] = []
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                samples.append(worker_rss_mib(server.pid))
                time.sleep(0.02)

        sampler = threading.Thread(target=sample)
        sampler.start()
        started = time.perf_counter()
        received = 0
        with httpx.stream("GET", base + path, headers=auth, timeout=300) as response:
            response.raise_for_status()
            for chunk in response.iter_raw(1024 * 1024):
                received += len(chunk)
        seconds = time.perf_counter() - started
        done.set()
        sampler.join()
        after = worker_rss_mib(server.pid)
    finally:
        stop(server)
        shutil.rmtree(work, ignore_errors=True)
    peak = max(samples, default=before)
    growth = peak - before
    print(
        f"\nstreamed {received / 2**20:.0f} MiB in {seconds:.1f} s ({received / 2**20 / seconds:.0f} MiB/s); "
        f"worker RSS before {before:.1f} MiB, peak {peak:.1f} MiB (+{growth:.1f}), after {after:.1f} MiB "
        f"({len(samples)} samples); target: within +-20 MB"
    )
    if args.save:
        results.save(
            "dist_rss",
            {
                "megabytes": args.megabytes,
                "rss_before_mib": before,
                "rss_peak_mib": peak,
                "rss_after_mib": after,
                "seconds": seconds,
                "table": [
                    {
                        "what": f"server worker RSS while streaming a {args.megabytes} MB dist",
                        "figure": f"{before:.0f} -> peak {peak:.0f} MiB (+{growth:.1f})",
                        "target": "flat, +-20 MB",
                    }
                ],
            },
            command="python -m bench.dist_rss " + " ".join(sys.argv[1:]),
            leaves_out="S3 storage (filesystem here), slow clients (this one reads as fast as loopback allows), "
            "and several downloads at once",
        )


if __name__ == "__main__":
    main()
