"""Shared fixtures: an in-process broker on real SQLite/filesystem, and a real `package-broker serve` process."""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest

from package_broker.broker import Broker
from package_broker.runtimes.server.bootstrap import build_broker, migrate
from package_broker.web.app import App
from package_broker.web.http import Request, Response
from tests.secret_scan import install_in_process_hooks, observe_cli, scan

ROOT = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI") == "true"


install_in_process_hooks()


@pytest.fixture(scope="session", autouse=True)
def no_secret_in_logs_or_audit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """At the end of the session: no secret a test made or handed over appears in a log line or an audit
    entry (tests/secret_scan.py says what is collected and scanned)."""
    yield
    leaks = scan(tmp_path_factory.getbasetemp())
    assert not leaks, "secrets in log lines or audit entries:\n" + "\n".join(leaks[:20])


def unavailable(message: str) -> NoReturn:
    """Skip locally, fail loudly in CI: CI must run every test."""
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def require_tool(name: str) -> str:
    """Return the path of a command-line tool; skip locally, fail loudly in CI, when it is missing."""
    path = shutil.which(name)
    if path is None:
        unavailable(f"{name} is not installed (scripts/test installs it)")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def basic(secret: str, username: str = "token") -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{username}:{secret}".encode()).decode()}


# -- in-process -------------------------------------------------------------------------------


async def open_broker(tmp_path: Path, **env: str) -> Broker:
    """A migrated broker on a real SQLite file, SQLite key/value file and filesystem store (plus `env`)."""
    umask = os.umask(0o077)  # build_broker makes the process's files private: keep the tests' own umask
    try:
        opened = await build_broker({"DATA_DIR": str(tmp_path / "data"), "MEMO_SECONDS": "0", **env})
    finally:
        os.umask(umask)
    await migrate(opened)
    return opened


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[Broker]:
    """A broker on a real SQLite file, SQLite key/value file and filesystem store, schema migrated."""
    opened = await open_broker(tmp_path)
    yield opened
    await opened.close()


@dataclass
class Client:
    """Calls the core App in-process (no sockets); wire behaviour is tested against the real server."""

    app: App

    async def request(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, body: bytes = b"", query: str = ""
    ) -> tuple[Response, bytes]:
        async def stream() -> AsyncIterator[bytes]:
            if body:
                yield body

        deferred: list[Any] = []
        request = Request(
            method=method,
            path=path,
            query=query,
            headers={"host": "broker.test", **{k.lower(): v for k, v in (headers or {}).items()}},
            body=stream,
            defer=deferred.append,
        )
        response = await self.app.handle(request)
        for work in deferred:
            await work
        if response.stream is not None:
            data = b"".join([chunk async for chunk in response.stream()])
        else:
            data = response.body
        return response, data


@pytest.fixture
def client(broker: Broker) -> Client:
    return Client(App(broker))


# -- a real server process -------------------------------------------------------------------


@dataclass
class BrokerServer:
    """`package-broker serve` in a subprocess with its own DATA_DIR and port."""

    root: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "STORAGE_", "CACHE_", "BASE_URL"))}
        env.update(
            DATA_DIR=str(self.data_dir), PORT=str(self.port), HOST="127.0.0.1", SYNC_INTERVAL="0", LOG_LEVEL="info"
        )
        env.update(self.extra_env)
        return env

    def start(self) -> BrokerServer:
        self.root.mkdir(parents=True, exist_ok=True)
        self.stdout = open(self.root / "stdout.log", "wb")
        self.stderr = open(self.root / "stderr.log", "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "package_broker.runtimes.server.cli", "serve"],
            env=self.env,
            stdout=self.stdout,
            stderr=self.stderr,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited: {(self.root / 'stderr.log').read_text()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError("server did not become healthy within 60 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        for stream in (getattr(self, "stdout", None), getattr(self, "stderr", None)):
            if stream is not None:
                stream.close()

    def cli(self, *args: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "package_broker.runtimes.server.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            input=input,
            check=False,
        )
        observe_cli(args, self.env, result, self.extra_env)
        if check and result.returncode != 0:
            raise AssertionError(f"package-broker {' '.join(args)} failed ({result.returncode}): {result.stderr}")
        return result

    def token(self, permission: str = "readonly", *extra: str) -> str:
        result = self.cli(
            "token", "create", "--description", f"test {permission}", "--permission", permission, "--json", *extra
        )
        return str(json.loads(result.stdout)["token"])

    def log_text(self) -> str:
        """stdout and stderr so far, read once stdout has not grown for 0.15 s: the server writes its log
        lines from a thread, within 50 ms (logs.BackgroundWriter), not before it answers."""
        stdout = self.root / "stdout.log"
        size, deadline = -1, time.monotonic() + 5
        while (now := stdout.stat().st_size) != size and time.monotonic() < deadline:
            size = now
            time.sleep(0.15)
        return stdout.read_text() + (self.root / "stderr.log").read_text()

    def requests(self) -> list[dict[str, Any]]:
        """The JSON request log lines written so far."""
        lines = self.log_text().splitlines()
        return [d for d in (json.loads(line) for line in lines if line.startswith("{")) if d.get("msg") == "request"]

    def process_tree_rss_kib(self) -> int:
        """Peak resident memory (VmHWM) of the server's worker process(es), in KiB."""
        assert self.process is not None
        total = 0
        for pid in _descendants(self.process.pid):
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except FileNotFoundError:
                continue
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    total = max(total, int(line.split()[1]))
        return total


def _descendants(pid: int) -> list[int]:
    found = [pid]
    for child_file in Path("/proc").glob(f"{pid}/task/*/children"):
        for child in child_file.read_text().split():
            found += _descendants(int(child))
    return found


@pytest.fixture
def server(tmp_path: Path) -> Iterator[BrokerServer]:
    running = BrokerServer(tmp_path / "server").start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Any]:
    """Start extra servers with custom environment: `server_factory(MAX_UPLOAD_BYTES="2048")`."""
    started: list[BrokerServer] = []

    def start(name: str = "custom", **env: str) -> BrokerServer:
        running = BrokerServer(tmp_path / name, extra_env=env).start()
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()
