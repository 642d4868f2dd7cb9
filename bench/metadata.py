"""Metadata benchmark: warm `p2` and `packages.json` hits with a valid token, the broker against nginx.

nginx (Debian's package, started here) serves the very same bytes as static files with the same number of
worker processes, in the same run on the same machine; all are loaded by `wrk` at concurrency 32. A second
peer shows the ceiling of any Python app on the same server: a bare ASGI app under granian (the broker's
server) that returns the same bytes from a dict, with no auth, no logging, nothing else. Prints
requests/s, p50/p99 and the ratios.

    .venv/bin/python -m bench.metadata [--workers 1] [--duration 10] [--packages 40] [--versions 25]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from package_broker.access.store import MAX_RATE_LIMIT
from package_broker.artifacts.publish import publish_archive
from package_broker.runtimes.server.bootstrap import build_broker, migrate
from tests.helpers import make_zip

ROOT = Path(__file__).resolve().parents[1]

BARE_ASGI = """
from pathlib import Path
FILES = {"/" + str(p.relative_to(ROOT)): p.read_bytes() for p in Path(ROOT).rglob("*.json")}
HEADERS = [(b"content-type", b"application/json")]
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = FILES.get(scope["path"], b"")
    await send({"type": "http.response.start", "status": 200 if body else 404, "headers": HEADERS})
    await send({"type": "http.response.body", "body": body})
"""


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def populate(data_dir: Path, packages: int, versions: int) -> str:
    """Publish packages x versions small zips and return a readonly token."""
    broker = await build_broker({"DATA_DIR": str(data_dir)})
    await migrate(broker)
    import io

    for p in range(packages):
        name = f"bench/package-{p:03d}"
        for v in range(versions):
            manifest = {
                "name": name,
                "description": f"Benchmark package {p}",
                "license": "MIT",
                "require": {"php": ">=8.1", "psr/log": "^3.0"},
                "autoload": {"psr-4": {f"Bench\\P{p}\\": "src/"}},
            }
            archive = make_zip({"composer.json": manifest, "src/A.php": f"<?php // {p}.{v}"})
            await publish_archive(broker, io.BytesIO(archive), version=f"1.{v}.0")
    # Counted against a limit it never reaches (what every request pays for rate limiting), unless
    # --no-rate-limit: then the token is unlimited and nothing is counted.
    limit = 0 if NO_RATE_LIMIT else MAX_RATE_LIMIT
    _, secret = await broker.tokens.create("benchmark", rate_limit=limit)
    await broker.close()
    return secret


PINNED = "--pin" in sys.argv
NO_RATE_LIMIT = "--no-rate-limit" in sys.argv


def pin(core: int) -> list[str]:
    """With --pin, servers run on core 0 and wrk on core 1; otherwise the OS schedules all three freely."""
    return ["taskset", "-c", str(core)] if PINNED and shutil.which("taskset") and (os.cpu_count() or 1) > 1 else []


def wait_for(url: str, headers: dict[str, str] | None = None) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, headers=headers, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


def wrk(url: str, paths: list[str], headers: dict[str, str], duration: int, workdir: Path) -> dict[str, float]:
    script = workdir / "paths.lua"
    lua_paths = ", ".join(f'"{p}"' for p in paths)
    lua_headers = "\n".join(f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items())
    script.write_text(
        f"local paths = {{{lua_paths}}}\nlocal i = 0\n{lua_headers}\n"
        'request = function()\n  i = i % #paths + 1\n  return wrk.format("GET", paths[i])\nend\n'
        "response = function(status, headers, body)\n"
        "  if status ~= 200 then print(status, body) wrk.thread:stop() end\nend\n"
    )
    command = [*pin(1), "wrk", "-t1", "-c32", f"-d{duration}s", "--latency", "-s", str(script), url]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in output:
        raise SystemExit(f"non-200 responses while benchmarking {url}:\n{output}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1])  # type: ignore[index]

    def latency(percentile: str) -> float:
        value, unit = re.search(rf"^\s+{percentile}%\s+([\d.]+)(us|ms|s)", output, re.M).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    return {"rps": rps, "p50": latency("50"), "p99": latency("99")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--packages", type=int, default=40)
    parser.add_argument("--versions", type=int, default=25)
    parser.add_argument("--pin", action="store_true", help="pin servers to core 0 and wrk to core 1")
    parser.add_argument(
        "--no-rate-limit", action="store_true", help="an unlimited token: no request is counted (rate limiting off)"
    )
    args = parser.parse_args()
    for tool in ("wrk", "nginx"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is not installed: apt install {'nginx-light' if tool == 'nginx' else tool}")

    work = Path(tempfile.mkdtemp(prefix="bench-metadata-"))
    work.chmod(0o755)  # nginx workers run as www-data
    data_dir = work / "data"
    print(f"populating {args.packages} packages x {args.versions} versions ...", file=sys.stderr)
    secret = asyncio.run(populate(data_dir, args.packages, args.versions))
    os.umask(0o022)  # building a broker makes this process's files private; nginx's www-data must read these
    auth = {"Authorization": "Basic " + base64.b64encode(f"token:{secret}".encode()).decode()}

    broker_port, nginx_port = free_port(), free_port()
    env = {
        **os.environ,
        "DATA_DIR": str(data_dir),
        "PORT": str(broker_port),
        "WORKERS": str(args.workers),
        "SYNC_INTERVAL": "0",
        "LOG_LEVEL": "info",
    }
    broker = subprocess.Popen(
        [*pin(0), sys.executable, "-m", "package_broker.runtimes.server.cli", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    nginx = None
    try:
        base = f"http://127.0.0.1:{broker_port}"
        wait_for(f"{base}/health")
        p2_paths = [f"/p2/bench/package-{p:03d}.json" for p in range(args.packages)]
        root = work / "static"
        for path in [*p2_paths, "/packages.json"]:
            response = httpx.get(base + path, headers=auth)
            response.raise_for_status()
            target = root / path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(response.content)  # the very bytes the broker serves
        (work / "nginx.conf").write_text(
            f"worker_processes {args.workers};\ndaemon off;\npid {work}/nginx.pid;\nerror_log {work}/nginx.err;\n"
            "events { worker_connections 4096; }\n"
            f"http {{ access_log off; default_type application/json; server {{ listen 127.0.0.1:{nginx_port}; "
            f"root {root}; }} }}\n"
        )
        nginx = subprocess.Popen([*pin(0), "nginx", "-c", str(work / "nginx.conf")], start_new_session=True)
        wait_for(f"http://127.0.0.1:{nginx_port}/packages.json")
        bare_port = free_port()
        (work / "bare_asgi.py").write_text(BARE_ASGI.replace("ROOT", repr(str(root))))
        bare = subprocess.Popen(
            [
                *pin(0),
                sys.executable,
                "-m",
                "granian",
                "--interface",
                "asgi",
                "--workers",
                str(args.workers),
                "--port",
                str(bare_port),
                "--log-level",
                "warning",
                "bare_asgi:app",
            ],
            cwd=work,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for(f"http://127.0.0.1:{bare_port}/packages.json")

        results = {}
        peers = (
            ("broker", base),
            ("nginx", f"http://127.0.0.1:{nginx_port}"),
            ("bare ASGI", f"http://127.0.0.1:{bare_port}"),
        )
        for label, paths in (("p2", p2_paths), ("packages.json", ["/packages.json"])):
            for peer, url in peers:
                wrk(url, paths, auth, 2, work)  # warm up
                results[(label, peer)] = wrk(url, paths, auth, args.duration, work)

        print(
            f"\nmetadata benchmark: wrk -c32, {args.duration}s, {args.workers} worker process(es) each, "
            f"{args.packages} packages x {args.versions} versions, same bytes from both"
        )
        print(f"{'request':<15} {'server':<8} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8}")
        for (label, peer), r in results.items():
            print(f"{label:<15} {peer:<8} {r['rps']:>10.0f} {r['p50']:>8.2f} {r['p99']:>8.2f}")
        for label in ("p2", "packages.json"):
            ratio = results[(label, "broker")]["rps"] / results[(label, "nginx")]["rps"]
            ceiling = results[(label, "bare ASGI")]["rps"] / results[(label, "nginx")]["rps"]
            own = results[(label, "broker")]["rps"] / results[(label, "bare ASGI")]["rps"]
            print(
                f"{label}: broker/nginx = {ratio:.2f} (target >= 0.50); bare ASGI/nginx = {ceiling:.2f}; "
                f"broker/bare ASGI = {own:.2f}"
            )
    finally:
        for process in (broker, nginx, locals().get("bare")):
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
