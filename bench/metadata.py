"""Metadata benchmark: warm `p2` and `packages.json` hits with a valid token, the broker against nginx.

nginx (Debian's package, started here) serves the very same bytes as static files with the same number of
worker processes, in the same run on the same machine; all are loaded by `wrk` at concurrency 32. Two more
peers show the ceiling of any Python app on the same server, one for each of granian's interfaces: a bare
ASGI app (the broker's interface) and a bare RSGI app (granian's own, which hands the app an already
percent-decoded path, so the broker could not refuse `%2F` in a name on it), each returning the same bytes
from a dict, with no auth, no logging, nothing else. Prints requests/s, p50/p99 and the ratios.

    .venv/bin/python -m bench.metadata [--workers 1] [--duration 10] [--runs 1] [--packages 40] [--versions 25]
                                       [--profile] [--save] [--no-rate-limit] [--pin]

--profile samples the broker's worker processes with py-spy during one more p2 run and prints where the
time goes; --save writes bench/results/metadata.json (see bench/results.py).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench import results as results_module
from bench.servers import basic_auth, free_port, start_broker, start_nginx, stop, wait_for
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

BARE_RSGI = """
from pathlib import Path
FILES = {"/" + str(p.relative_to(ROOT)): p.read_bytes() for p in Path(ROOT).rglob("*.json")}
HEADERS = [("content-type", "application/json")]
class app:
    @staticmethod
    async def __rsgi__(scope, protocol):
        body = FILES.get(scope.path, b"")
        protocol.response_bytes(200 if body else 404, HEADERS, body)
"""


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


def start_bare(interface: str, source: str, workers: int, work: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A bare app (`source`) under granian's `interface` with `workers` processes; returns it and its URL."""
    port = free_port()
    (work / f"bare_{interface}.py").write_text(source)
    command = [*pin(0), sys.executable, "-m", "granian", "--interface", interface, "--workers", str(workers)]
    command += ["--port", str(port), "--log-level", "warning", f"bare_{interface}:app"]
    process = subprocess.Popen(
        command, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    wait_for(f"{url}/packages.json")
    return process, url


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


def profile(pid: int, seconds: int, workdir: Path) -> tuple[subprocess.Popen[bytes], Path]:
    """Where a live broker's time goes: py-spy samples its worker processes during a wrk run.

    Samples are taken only from the thread holding the GIL: time in granian's Rust threads without it is
    not seen, time in the event loop's native code shows as its Python caller.
    """
    out = workdir / "profile.txt"
    command = ["py-spy", "record", "--pid", str(pid), "--subprocesses", "--duration", str(seconds)]
    command += ["--rate", "250", "--format", "raw", "--nonblocking", "--gil", "-o", str(out)]
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    process = subprocess.Popen([spy, *command[1:]], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return process, out


def summarise_profile(path: Path, top: int = 15) -> str:
    leaves: dict[str, int] = {}
    stages = {
        "the broker (AsgiAdapter.__call__)": "asgi.py:AsgiAdapter.__call__",
        "  App.handle": "app.py:App.handle",
        "    authenticate (token memo, rate limit)": "app.py:Context.authenticate",
        "      rate limiter": "ratelimit.py:RateLimiter.hit",
        "    documents.p2 (cache memo)": "documents.py:Documents.p2",
        "    log line": "logs.py:log_request",
        "  send_response (ASGI messages)": "asgi.py:send_response",
    }
    inclusive = dict.fromkeys(stages, 0)
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        leaf = re.sub(r" \((.*/)?([^/]+)\)", r" (\2)", frames[-1])
        leaves[leaf] = leaves.get(leaf, 0) + count
        compact = [re.sub(r"^(\S+) \((?:.*/)?([^/:]+):\d+\)$", r"\2:\1", f) for f in frames]
        for label, frame in stages.items():
            if frame in compact:
                inclusive[label] += count
    if total == 0:
        return "py-spy collected no samples"
    lines = [f"py-spy: {total} samples holding the GIL in the broker's workers during a p2 run"]
    lines += [f"  {100 * n / total:5.1f}%  {label} (inclusive)" for label, n in inclusive.items()]
    lines.append("  top self time:")
    for leaf, n in sorted(leaves.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"  {100 * n / total:5.1f}%  {leaf}")
    return "\n".join(lines)


def spread(values: list[float], digits: int = 0) -> str:
    """min-max (median) of repeated runs."""
    lo, hi, mid = min(values), max(values), statistics.median(values)
    return f"{lo:.{digits}f}-{hi:.{digits}f} ({mid:.{digits}f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--runs", type=int, default=1, help="repeat every measurement, interleaved; ranges shown")
    parser.add_argument("--packages", type=int, default=40)
    parser.add_argument("--versions", type=int, default=25)
    parser.add_argument("--pin", action="store_true", help="pin servers to core 0 and wrk to core 1")
    parser.add_argument("--profile", action="store_true", help="py-spy the broker's workers during one p2 run")
    parser.add_argument("--save", action="store_true", help="write bench/results/metadata.json")
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
    auth = basic_auth(secret)

    broker = nginx = None
    bare: dict[str, tuple[subprocess.Popen[bytes], str]] = {}
    try:
        env = {**os.environ, "DATA_DIR": str(data_dir), "LOG_LEVEL": "info"}
        broker, base = start_broker(env, args.workers, prefix=pin(0))
        p2_paths = [f"/p2/bench/package-{p:03d}.json" for p in range(args.packages)]
        root = work / "static"
        for path in [*p2_paths, "/packages.json"]:
            response = httpx.get(base + path, headers=auth)
            response.raise_for_status()
            target = root / path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(response.content)  # the very bytes the broker serves
        nginx, nginx_url = start_nginx(work, root, args.workers, prefix=pin(0))
        for interface, source in (("asgi", BARE_ASGI), ("rsgi", BARE_RSGI)):
            bare[interface] = start_bare(interface, source.replace("ROOT", repr(str(root))), args.workers, work)

        results: dict[tuple[str, str], list[dict[str, float]]] = {}
        peers = (
            ("broker", base),
            ("nginx", nginx_url),
            ("bare ASGI", bare["asgi"][1]),
            ("bare RSGI", bare["rsgi"][1]),
        )
        documents = (("p2", p2_paths), ("packages.json", ["/packages.json"]))
        for _ in range(args.runs):
            for label, paths in documents:
                for peer, url in peers:
                    wrk(url, paths, auth, 2, work)  # warm up
                    results.setdefault((label, peer), []).append(wrk(url, paths, auth, args.duration, work))
        report = ""
        if args.profile:
            spy, out = profile(broker.pid, args.duration, work)
            time.sleep(0.5)
            wrk(base, p2_paths, auth, args.duration, work)
            spy.wait(30)
            report = summarise_profile(out) if out.exists() else "py-spy wrote nothing (is it installed?)"

        mode = "uncounted token (--no-rate-limit)" if NO_RATE_LIMIT else "token counted against a rate limit"
        print(
            f"\nmetadata benchmark: wrk -c32, {args.duration}s x {args.runs} run(s), {args.workers} worker "
            f"process(es) each, {args.packages} packages x {args.versions} versions, same bytes from all; {mode}"
        )
        print(f"{'request':<15} {'server':<10} {'req/s min-max (median)':>26} {'p99 ms (median)':>16}")
        for (label, peer), runs in results.items():
            rps = spread([r["rps"] for r in runs])
            p99 = statistics.median(r["p99"] for r in runs)
            print(f"{label:<15} {peer:<10} {rps:>26} {p99:>16.2f}")
        figures: dict[str, object] = {
            "workers": args.workers,
            "duration_s": args.duration,
            "runs": args.runs,
            "rate_limited": not NO_RATE_LIMIT,
            "runs_raw": {f"{label} {peer}": runs for (label, peer), runs in results.items()},
        }

        def ratio(label: str, peer: str, to: str) -> list[float]:
            """Requests/s of `peer` over `to`, run by run."""
            pairs = zip(results[(label, peer)], results[(label, to)], strict=True)
            return [a["rps"] / b["rps"] for a, b in pairs]

        table = []
        for label, _ in documents:
            ratios, ceilings = ratio(label, "broker", "nginx"), ratio(label, "bare ASGI", "nginx")
            rsgi = ratio(label, "bare RSGI", "nginx")
            print(
                f"{label}: broker/nginx = {spread(ratios, 2)} (target >= 0.50); "
                f"bare ASGI/nginx = {spread(ceilings, 2)}; bare RSGI/nginx = {spread(rsgi, 2)}; "
                f"broker/bare ASGI = {spread(ratio(label, 'broker', 'bare ASGI'), 2)}"
            )
            p99_broker = statistics.median(r["p99"] for r in results[(label, "broker")])
            p99_nginx = statistics.median(r["p99"] for r in results[(label, "nginx")])
            table.append(
                {
                    "what": f"warm {label}, broker / nginx (req/s ratio, {args.workers} workers each, wrk -c32)",
                    "figure": f"{spread(ratios, 2)}; broker {spread([r['rps'] for r in results[(label, 'broker')]])}"
                    f" req/s, p99 {p99_broker:.1f} ms",
                    "target": f">= 0.50; nginx {spread([r['rps'] for r in results[(label, 'nginx')]])} req/s, p99 "
                    f"{p99_nginx:.1f} ms; bare ASGI app {spread(ceilings, 2)} x nginx, bare RSGI app {spread(rsgi, 2)}",
                }
            )
        figures["table"] = table
        if report:
            print("\n" + report)
            figures["profile"] = report.splitlines()
        if args.save:
            results_module.save(
                "metadata",
                figures,
                command="python -m bench.metadata " + " ".join(sys.argv[1:]),
                leaves_out="TLS, a network between client and server (loopback), Composer's own request pattern "
                "(wrk asks for the same few documents), and a 2-core machine shared by wrk, nginx and the broker",
            )
    finally:
        stop(broker, nginx, *(process for process, _ in bare.values()))
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
