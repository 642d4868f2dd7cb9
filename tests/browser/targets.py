"""The two places the dashboard runs, started for a browser: `package-broker serve`, and the Worker in the
offline harness (tests/worker/serve.mjs: the deploy bundle in Pyodide, D1/KV/R2 from Miniflare). Each gets a
Composer repository upstream (tests/fixtures/composer_repo.py) that the dashboard adds as a source: a
source kind both runtimes sync (the Worker cannot run git)."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Protocol

from tests.conftest import BrokerServer
from tests.e2e.worker_harness import WorkerHarness, require_harness
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


class WorkerTarget(WorkerHarness):
    runtime = "worker"

    def __init__(self, root: Path) -> None:
        require_harness()
        self.setup_secret = _setup_secret()
        root.mkdir(parents=True, exist_ok=True)
        # stdout.log: the suite's secret scan reads every such log under the test's directory.
        super().__init__(root / "stdout.log", {"SETUP_SECRET": self.setup_secret, "PRIVATE_UPSTREAMS": "allow"})


TARGETS = {"server": ServerTarget, "worker": WorkerTarget}
