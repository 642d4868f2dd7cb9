"""The two places the dashboard runs, started for a browser: `package-broker serve`, and the Worker in the
offline harness (tests/worker/serve.mjs: the deploy bundle in Pyodide, D1/KV/R2 from Miniflare). Each gets a
Composer repository upstream (tests/fixtures/composer_repo.py) that the dashboard adds as a source: a
source kind both runtimes sync (the Worker cannot run git)."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import threading
from pathlib import Path
from typing import Protocol

from tests.conftest import ROOT, BrokerServer, require_tool, unavailable
from tests.fixtures.composer_repo import ComposerRepository
from tests.secret_scan import remember


class Target(Protocol):
    #: Where the broker answers: http://127.0.0.1:PORT
    url: str
    runtime: str
    #: The SETUP_SECRET it was started with (the first admin is claimed with it).
    setup_secret: str
    upstream: ComposerRepository

    def stop(self) -> None: ...


def _setup_secret() -> str:
    value = secrets.token_hex(16)
    remember(value)
    return value


class ServerTarget:
    runtime = "server"

    def __init__(self, root: Path) -> None:
        self.setup_secret = _setup_secret()
        self.upstream = ComposerRepository().start()
        # PRIVATE_UPSTREAMS=allow: the upstream fixture listens on 127.0.0.1.
        self.server = BrokerServer(
            root, extra_env={"SETUP_SECRET": self.setup_secret, "PRIVATE_UPSTREAMS": "allow", "SYNC_INTERVAL": "86400"}
        ).start()
        self.url = self.server.url

    def stop(self) -> None:
        self.server.stop()
        self.upstream.stop()


class WorkerTarget:
    runtime = "worker"

    def __init__(self, root: Path) -> None:
        if not (ROOT / "node_modules" / "pyodide").exists():
            unavailable("node_modules is missing: run scripts/setup --test")
        self.setup_secret = _setup_secret()
        self.upstream = ComposerRepository().start()
        root.mkdir(parents=True, exist_ok=True)
        # stdout.log: the suite's secret scan reads every such log under the test's directory.
        self.log = open(root / "stdout.log", "wb")
        self.process = subprocess.Popen(
            [require_tool("node"), "tests/worker/serve.mjs"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={
                **os.environ,
                "HARNESS_VARS": json.dumps({"SETUP_SECRET": self.setup_secret, "PRIVATE_UPSTREAMS": "allow"}),
            },
        )
        assert self.process.stdout is not None
        # Building the bundle first (when src/ changed) may print wrangler's output before the ready line.
        before: list[bytes] = []
        while not (line := self.process.stdout.readline()).startswith(b'{"ready"'):
            before.append(line)
            if not line or len(before) > 200:
                self.stop()
                raise AssertionError("serve.mjs did not start:\n" + b"".join(before[-40:]).decode(errors="replace"))
        self.url = f"http://127.0.0.1:{json.loads(line)['ready']}"
        self.copier = threading.Thread(target=self._copy, daemon=True)
        self.copier.start()

    def _copy(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.log.write(line)
            self.log.flush()

    def stop(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        if getattr(self, "copier", None):
            self.copier.join(10)
        if self.process.stdout:
            self.process.stdout.close()
        self.log.close()
        self.upstream.stop()


TARGETS = {"server": ServerTarget, "worker": WorkerTarget}
