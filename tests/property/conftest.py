"""Property tests: generated inputs checked against Composer's own PHP, through one long-lived `php` process.

One process answers every example (a request per line): starting PHP per example would cost more than
the examples themselves. Example counts stay modest so the suite stays fast; `HYPOTHESIS_PROFILE=deep`
runs many more. Hypothesis keeps no example database in the worktree.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from tests.conftest import require_tool

settings.register_profile(
    "default", max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("deep", parent=settings.get_profile("default"), max_examples=5000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


class Php:
    """Composer's PHP behind a pipe: `call(op, value)` returns what tests/property/oracle.php answers."""

    def __init__(self, php: str) -> None:
        self.process = subprocess.Popen(
            [php, str(Path(__file__).with_name("oracle.php"))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )

    def call(self, op: str, value: Any) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps({"op": op, "in": value}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise AssertionError(f"the PHP oracle stopped (exit code {self.process.wait()})")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def close(self) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.close()
        self.process.wait(10)
        self.process.stdout.close()


@pytest.fixture(scope="session")
def php() -> Iterator[Php]:
    php_path = require_tool("php")
    require_tool("composer")
    if not Path("/usr/share/php/Composer/autoload.php").exists():
        pytest.fail("Composer's PHP sources are missing (/usr/share/php/Composer, Debian's composer package)")
    oracle = Php(php_path)
    yield oracle
    oracle.close()
