"""The servers the benchmarks start: `package-broker serve` and nginx on free local ports, each in a session
of its own (so `stop` takes down its worker processes too), waited for before it is measured.
"""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, headers: dict[str, str] | None = None) -> None:
    """Return once `url` answers below 500; give up (exit) after 30 s."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, headers=headers, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


def basic_auth(secret: str) -> dict[str, str]:
    """The header Composer sends for a token: HTTP Basic, user `token`."""
    return {"Authorization": "Basic " + base64.b64encode(f"token:{secret}".encode()).decode()}


def stop(*processes: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM each process still running, with its session (a server's workers), and wait for it."""
    for process in processes:
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(10)


def _started(process: subprocess.Popen[bytes], probe: str) -> None:
    """Wait for `probe`; a server that never comes up is stopped, not left behind."""
    try:
        wait_for(probe)
    except BaseException:
        stop(process)
        raise


def start_broker(
    env: Mapping[str, str], workers: int | None = None, prefix: Sequence[str] = ()
) -> tuple[subprocess.Popen[bytes], str]:
    """`package-broker serve` with `env` (the whole environment: DATA_DIR and the rest), no scheduled
    syncs (they would run during the measurements), `workers` worker processes (None: WORKERS as `env`
    has it) and output dropped, on a free port; returns it and its URL once /health answers.

    `prefix` goes before the command (bench.metadata's `taskset` pinning).
    """
    port = free_port()
    env = {**env, "PORT": str(port), "SYNC_INTERVAL": "0"}
    if workers is not None:
        env["WORKERS"] = str(workers)
    process = subprocess.Popen(
        [*prefix, sys.executable, "-m", "package_broker.runtimes.server.cli", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    _started(process, f"{url}/health")
    return process, url


def start_nginx(
    work: Path,
    root: Path,
    workers: int,
    port: int | None = None,
    connections: int = 4096,
    prefix: Sequence[str] = (),
) -> tuple[subprocess.Popen[bytes], str]:
    """nginx serving the static files under `root` as JSON, with `workers` worker processes of
    `connections` connections each, no access log, its config, pid and error log in `work`, on `port`
    (None: a free one; pass one when the files must name nginx's URL before it starts). Returns it and
    its URL once /packages.json answers (a 404 will do).

    nginx's workers run as www-data: `work` and `root` must be readable by it.
    """
    port = port or free_port()
    (work / "nginx.conf").write_text(
        f"worker_processes {workers};\ndaemon off;\npid {work}/nginx.pid;\nerror_log {work}/nginx.err;\n"
        f"events {{ worker_connections {connections}; }}\n"
        f"http {{ access_log off; default_type application/json; server {{ listen 127.0.0.1:{port}; "
        f"root {root}; }} }}\n"
    )
    process = subprocess.Popen([*prefix, "nginx", "-c", str(work / "nginx.conf")], start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    _started(process, f"{url}/packages.json")
    return process, url
