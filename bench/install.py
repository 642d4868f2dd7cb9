"""`composer update` and `composer install` through the broker against the same repository as a static
directory on nginx (the named peer: what a Satis build behind a web server gives), with both of Composer's
transports (curl, and PHP streams with the curl extension off).

The broker (`package-broker serve`, 2 workers, SQLite + filesystem) serves N published packages; the static
copy holds the very same packages.json, p2 files (dist URLs pointing at nginx) and zips. Each run starts
with an empty Composer cache and no vendor/: `update` resolves and downloads everything, `install` then
does the same from the lock file (again with an empty cache).

    .venv/bin/python -m bench.install [--packages 30] [--versions 5] [--runs 3] [--save]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench import results
from bench.servers import basic_auth, free_port, start_broker, start_nginx, stop
from package_broker.artifacts.publish import publish_archive
from package_broker.runtimes.server.bootstrap import build_broker, migrate
from tests.e2e.composer import CLIENTS, Project
from tests.helpers import make_zip


async def populate(data_dir: Path, packages: int, versions: int) -> str:
    broker = await build_broker({"DATA_DIR": str(data_dir)})
    try:
        await migrate(broker)
        for p in range(packages):
            name = f"bench/lib{p:02d}"
            for v in range(versions):
                namespace = f"Bench\\Lib{p}"
                files: dict[str, Any] = {
                    f"src/C{i}.php": f"<?php\nnamespace {namespace};\nfinal class C{i} {{}} // {v}\n" for i in range(20)
                }
                files["composer.json"] = {"name": name, "autoload": {"psr-4": {namespace + "\\": "src/"}}}
                await publish_archive(broker, io.BytesIO(make_zip(files)), version=f"1.{v}.0")
        _, secret = await broker.tokens.create("install", rate_limit=0)
    finally:
        await broker.close()
    return secret


def mirror_static(base: str, auth: dict[str, str], root: Path, static_url: str) -> list[str]:
    """Copy what the broker serves into `root`, dist URLs rewritten to `static_url`; return the names."""
    with httpx.Client(base_url=base, headers=auth, timeout=60) as http:
        index = http.get("/packages.json").json()
        names = index["available-packages"]
        index["metadata-url"] = "/p2/%package%.json"
        for key in ("notify-batch", "search", "list"):
            index.pop(key, None)
        (root / "packages.json").write_text(json.dumps(index))
        for name in names:
            p2 = http.get(f"/p2/{name}.json").json()
            for version in p2["packages"][name]:
                if "dist" in version:
                    url = version["dist"]["url"]
                    target = root / url.removeprefix(base).lstrip("/")
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(http.get(url).content)
                    version["dist"] = {**version["dist"], "url": static_url + url.removeprefix(base)}
            path = root / "p2" / f"{name}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(p2))
    return list(names)


class Peer:
    def __init__(self, url: str) -> None:
        self.url = url


def timed(project: Project, *args: str) -> float:
    started = time.perf_counter()
    project.composer(*args)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--packages", type=int, default=30)
    parser.add_argument("--versions", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--save", action="store_true", help="write bench/results/install.json")
    args = parser.parse_args()
    client = CLIENTS[0]
    client.executable()
    if not shutil.which("nginx"):
        raise SystemExit("nginx is not installed")
    work = Path(tempfile.mkdtemp(prefix="bench-install-"))
    work.chmod(0o755)
    server = nginx = None
    try:
        print(f"publishing {args.packages} packages x {args.versions} versions ...", file=sys.stderr)
        secret = asyncio.run(populate(work / "data", args.packages, args.versions))
        os.umask(0o022)
        server, base = start_broker({**os.environ, "DATA_DIR": str(work / "data")}, workers=2)
        static = work / "static"
        static.mkdir()
        nginx_port = free_port()
        static_url = f"http://127.0.0.1:{nginx_port}"
        names = mirror_static(base, basic_auth(secret), static, static_url)
        nginx, _ = start_nginx(work, static, workers=2, port=nginx_port)
        require = dict.fromkeys(names, "^1.0")
        figures: dict[str, list[float]] = {}
        for run in range(args.runs):
            for transport in ("curl", "streams"):
                for peer, url in (("broker", base), ("nginx", static_url)):
                    root = work / f"{peer}-{transport}-{run}" / "project"
                    project = Project(root, Peer(url), secret, client, transport=transport)  # type: ignore[arg-type]
                    project.write(require)
                    update = timed(project, "update")
                    project.reset(cache=True)
                    install = timed(project, "install")
                    figures.setdefault(f"{peer} {transport} update", []).append(update)
                    figures.setdefault(f"{peer} {transport} install", []).append(install)
    finally:
        stop(server, nginx)
        shutil.rmtree(work, ignore_errors=True)

    print(f"\n{client.id}, {args.packages} packages, empty cache each run, {args.runs} runs (min-max, median s):")
    table = []
    for transport in ("curl", "streams"):
        for command in ("update", "install"):
            ours, peer = figures[f"broker {transport} {command}"], figures[f"nginx {transport} {command}"]
            ratio = statistics.median(ours) / statistics.median(peer)
            line = (
                f"{min(ours):.2f}-{max(ours):.2f} ({statistics.median(ours):.2f}) s vs nginx "
                f"{min(peer):.2f}-{max(peer):.2f} ({statistics.median(peer):.2f}) s"
            )
            print(f"  composer {command:<7} {transport:<7} broker {line}: {ratio:.2f} x")
            table.append(
                {
                    "what": f"composer {command}, {args.packages} packages, {transport} transport, empty cache",
                    "figure": f"{ratio:.2f} x nginx ({line})",
                    "target": "static directory on nginx",
                }
            )
    if args.save:
        results.save(
            "install",
            {"client": client.id, "runs": figures, "table": table},
            command="python -m bench.install " + " ".join(sys.argv[1:]),
            leaves_out="TLS and a real network (loopback), Composer's cache (empty every run: the worst case), "
            "and notify-batch (the static peer has none)",
        )


if __name__ == "__main__":
    main()
