"""The broker's own cost of a warm `p2` hit, without a server: requests driven through the ASGI adapter
and `App.handle` in process (16 at a time, as concurrent clients would), measured as CPU time per request
or, with --instructions, as instructions per request counted by valgrind (callgrind): the figure that
stays put on a busy machine, where throughput and CPU time do not.

    .venv/bin/python -m bench.hotpath [--no-rate-limit] [--adapter-only] [--instructions]

--adapter-only replaces App.handle by one returning a fixed response (the adapter's share); --instructions
runs this twice under valgrind (N and N + 1600 requests) and prints the difference / 1600, so start-up
(imports, migrations, publishing) cancels out. MEMO_SECONDS is set high so no once-a-second work (the
generation check) lands in one run and not the other.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import io
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from package_broker import logs
from package_broker.access.store import MAX_RATE_LIMIT
from package_broker.artifacts.publish import publish_archive
from package_broker.runtimes.server.asgi import AsgiAdapter
from package_broker.runtimes.server.bootstrap import build_broker, migrate
from package_broker.web.app import App
from package_broker.web.http import Request, Response
from tests.helpers import make_zip

CONCURRENCY = 16
PATH = "/p2/bench/package-001.json"


async def measure(requests: int, repeats: int, *, rate_limited: bool, adapter_only: bool) -> list[float]:
    """CPU microseconds per request (all threads of this process), once per repeat."""
    data_dir = Path(tempfile.mkdtemp(prefix="bench-hotpath-"))
    env = {"DATA_DIR": str(data_dir), "SYNC_INTERVAL": "0", "MEMO_SECONDS": "100000"}
    try:
        broker = await build_broker(env)
        await migrate(broker)
        for p in range(5):
            manifest = {"name": f"bench/package-{p:03d}", "require": {"php": ">=8.1"}}
            for v in range(5):
                archive = make_zip({"composer.json": manifest, "src/A.php": "<?php"})
                await publish_archive(broker, io.BytesIO(archive), version=f"1.{v}.0")
        _, secret = await broker.tokens.create("hotpath", rate_limit=MAX_RATE_LIMIT if rate_limited else 0)
        await broker.close()
        logs.configure("info", open(os.devnull, "w"))
        broker = await build_broker(env)
        app = App(broker)
        if adapter_only:
            body = b"x" * 3000

            async def fixed(_: Request) -> Response:
                return Response(200, [("content-type", "application/json")], body)

            app.handle = fixed  # type: ignore[method-assign]
        adapter = AsgiAdapter(lambda: None)  # type: ignore[arg-type,return-value]
        authorization = b"Basic " + base64.b64encode(f"token:{secret}".encode())
        scope: dict[str, Any] = {
            "type": "http",
            "method": "GET",
            "path": PATH,
            "raw_path": PATH.encode(),
            "query_string": b"",
            "scheme": "http",
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8080),
            "headers": [(b"host", b"127.0.0.1:8080"), (b"authorization", authorization), (b"user-agent", b"bench")],
        }
        sent: collections.deque[dict[str, Any]] = collections.deque(maxlen=4)

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def client(n: int) -> None:
            for _ in range(n):
                await adapter._http(app, scope, receive, send)

        async def run(n: int) -> None:
            await asyncio.gather(*(client(n // CONCURRENCY) for _ in range(CONCURRENCY)))

        await run(CONCURRENCY * 10)  # warm: the document built, the token remembered
        assert sent[-2]["status"] == 200, sent
        timings = []
        for _ in range(repeats):
            started = time.process_time()
            await run(requests)
            timings.append((time.process_time() - started) / requests * 1e6)
        await broker.close()
        return timings
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def instructions(flags: list[str]) -> int:
    """Instructions per request: valgrind runs with N and N + 1600 requests, differenced."""
    if not shutil.which("valgrind"):
        raise SystemExit("valgrind is not installed: apt install valgrind")
    counts = []
    for n in (16, 1616):
        command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, "-m"]
        command += ["bench.hotpath", "--once", str(n), *flags]
        result = subprocess.run(command, capture_output=True, text=True, check=True)
        counts.append(int(re.findall(r"Collected : (\d+)", result.stderr)[-1]))
    return (counts[1] - counts[0]) // 1600


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-rate-limit", action="store_true", help="an unlimited token: nothing counted")
    parser.add_argument("--adapter-only", action="store_true", help="App.handle replaced by a fixed response")
    parser.add_argument("--instructions", action="store_true", help="count instructions with valgrind")
    parser.add_argument("--requests", type=int, default=8000)
    parser.add_argument("--once", type=int, help=argparse.SUPPRESS)  # one run of N requests (for valgrind)
    args = parser.parse_args()
    flags = [f for f in ("--no-rate-limit", "--adapter-only") if getattr(args, f[2:].replace("-", "_"))]
    label = " ".join(flags) or "counted against a rate limit"
    if args.instructions:
        print(f"warm p2 hit ({label}): {instructions(flags)} instructions per request")
        return
    import uvloop  # the server's event loop

    options = {"rate_limited": not args.no_rate_limit, "adapter_only": args.adapter_only}
    if args.once is not None:
        uvloop.run(measure(args.once, 1, **options))
        return
    timings = uvloop.run(measure(args.requests, 9, **options))
    best, middle = min(timings), statistics.median(timings)
    print(f"warm p2 hit ({label}): {best:.1f} us CPU per request (min of 9), median {middle:.1f}")


if __name__ == "__main__":
    main()
