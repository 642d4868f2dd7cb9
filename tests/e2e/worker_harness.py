"""The Worker in the offline harness, served over local HTTP by tests/worker/serve.mjs (the deploy bundle in
Pyodide, D1/KV/R2 from Miniflare), with a Composer repository upstream for it to mirror (the Worker cannot
run git). The Composer end-to-end tests and the dashboard's browser tests both start it this way."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Mapping
from pathlib import Path

from tests.conftest import ROOT, require_tool, unavailable
from tests.fixtures.composer_repo import ComposerRepository


def require_harness() -> None:
    """serve.mjs loads Pyodide from node_modules: skip locally (fail in CI) before starting anything."""
    if not (ROOT / "node_modules" / "pyodide").exists():
        unavailable("node_modules is missing: run scripts/setup --test")


class WorkerHarness:
    """serve.mjs in a subprocess; its output (one JSON line per request) is copied to `log`.

    `harness_vars` become HARNESS_VARS (extra Worker [vars] for this run). `max_lines_before_ready` is how
    many lines serve.mjs may print before its {"ready": PORT} line: building the bundle first (when src/
    changed) prints wrangler's output there.
    """

    def __init__(self, log: Path, harness_vars: Mapping[str, str], *, max_lines_before_ready: int = 200) -> None:
        self.log = log
        self.upstream = ComposerRepository().start()
        self._log_file = open(log, "wb")
        self.process = subprocess.Popen(
            [require_tool("node"), "tests/worker/serve.mjs"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ, "HARNESS_VARS": json.dumps(dict(harness_vars))},
        )
        self.url = f"http://127.0.0.1:{self._wait_ready(max_lines_before_ready)}"
        self.copier = threading.Thread(target=self._copy_output, daemon=True)
        self.copier.start()

    def _wait_ready(self, max_lines_before_ready: int) -> int:
        """The port from serve.mjs's ready line; if it exits or prints too much first, stop it and fail
        with what it printed (the last 40 lines, then what came after, up to 4000 bytes)."""
        assert self.process.stdout is not None
        before: list[bytes] = []
        while not (line := self.process.stdout.readline()).startswith(b'{"ready"'):
            before.append(line)
            if not line or len(before) > max_lines_before_ready:
                self._end_process()
                after = self.process.stdout.read(4000)
                self.stop()
                printed = b"".join(before[-40:]) + after
                raise AssertionError("serve.mjs did not start:\n" + printed.decode(errors="replace"))
        return int(json.loads(line)["ready"])

    def _copy_output(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._log_file.write(line)
            self._log_file.flush()

    def _end_process(self) -> None:
        """serve.mjs exits when its stdin closes; kill it if it has not within 20 s."""
        if self.process.stdin:
            self.process.stdin.close()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def stop(self) -> None:
        self._end_process()
        if getattr(self, "copier", None):
            self.copier.join(10)
        if self.process.stdout:
            self.process.stdout.close()
        self._log_file.close()
        self.upstream.stop()
