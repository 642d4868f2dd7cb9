"""Real `composer` clients against the Worker: real src/entry.py in Pyodide, D1/KV/R2 from Miniflare,
served over local HTTP by tests/worker/serve.mjs. Versions come from a Composer repository upstream that
the Worker mirrors on its Cron Trigger (the Worker cannot run git)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import require_tool
from tests.e2e.composer import KIT_FILES, Client, lib_files, run_alias_check, run_scenario
from tests.e2e.providers import TOKEN as PROVIDER_TOKEN
from tests.e2e.providers import ProviderTarget, run_provider_check, start_fixture
from tests.e2e.worker_harness import WorkerHarness, require_harness

pytestmark = pytest.mark.e2e


class WorkerTarget(WorkerHarness):
    """The harness as a Composer repository for the scenarios: its upstream is its first source."""

    def __init__(self, log: Path, harness_vars: dict[str, str] | None = None) -> None:
        super().__init__(log, harness_vars or {})
        self._control("source", kind="composer", url=self.upstream.url)

    def control(self, name: str, **body: Any) -> dict[str, Any]:
        return self._control(name, **body)

    def _control(self, name: str, **body: Any) -> dict[str, Any]:
        response = httpx.post(f"{self.url}/__harness__/{name}", json=body, timeout=120)
        response.raise_for_status()
        return dict(response.json())

    def token(self, permission: str = "readonly") -> str:
        return str(self._control("token", permission=permission)["token"])

    def release(self, name: str, version: str, files: dict[str, Any]) -> None:
        self.upstream.release(name, version, files)
        self._control("scheduled")

    def withdraw(self, name: str, version: str) -> None:
        self.upstream.withdraw(name, version)
        self._control("scheduled")

    def requests(self) -> list[dict[str, Any]]:
        lines = self.log.read_text().splitlines()
        return [d for d in (json.loads(line) for line in lines if line.startswith("{")) if d.get("msg") == "request"]


def _require_harness() -> None:
    for tool in ("php", "unzip"):
        require_tool(tool)
    require_harness()


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[WorkerTarget]:
    _require_harness()
    target = WorkerTarget(tmp_path / "worker.log")
    try:
        yield target
    finally:
        target.stop()


# The Worker runs each client over curl only: the PHP-streams transport is covered against the server.
def test_composer_installs_updates_and_revalidates_against_the_worker(
    client: Client, worker: WorkerTarget, tmp_path: Path
) -> None:
    run_scenario(worker, tmp_path, client)


def test_branch_aliases_resolve_on_the_worker(client: Client, worker: WorkerTarget, tmp_path: Path) -> None:
    worker.release("acme/lib", "v1.0.0", lib_files("lib 1.0"))
    worker.release("acme/kit", "dev-main", KIT_FILES)
    run_alias_check(worker, tmp_path, client)


def _worker_target(provider: str, tmp_path: Path) -> tuple[WorkerTarget, ProviderTarget]:
    _require_harness()
    fixture, api_url = start_fixture(provider)
    # PRIVATE_UPSTREAMS=allow: a fixture plays e.g. api.github.com and codeload on 127.0.0.1 (two ports).
    worker = WorkerTarget(tmp_path / "worker.log", {"PRIVATE_UPSTREAMS": "allow"})

    def add_source(path: str) -> tuple[str, str]:
        added = worker.control("provider_source", provider=provider, path=path, token=PROVIDER_TOKEN, api_url=api_url)
        return str(added["id"]), str(added["secret"])

    target = ProviderTarget(
        worker.url, tmp_path / "repos", fixture, add_source, worker.token, worker.requests, provider=provider
    )
    return worker, target


def test_composer_installs_from_a_github_source_updated_by_webhooks_on_the_worker(
    client: Client, tmp_path: Path
) -> None:
    """The Worker has no git: a GitHub source reads the provider's API through fetch(), and a signed push
    webhook syncs it in waitUntil, within the request's subrequest budget."""
    worker, target = _worker_target("github", tmp_path)
    try:
        run_scenario(target, tmp_path, client)
    finally:
        worker.stop()
        target.fixture.stop()


@pytest.mark.parametrize("provider", ["gitlab", "bitbucket", "gitea"])
def test_composer_installs_from_each_provider_kind_on_the_worker(client: Client, tmp_path: Path, provider: str) -> None:
    worker, target = _worker_target(provider, tmp_path)
    try:
        run_provider_check(target, tmp_path, client)
    finally:
        worker.stop()
        target.fixture.stop()
