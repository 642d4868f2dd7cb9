"""Sync benchmark: a repository with 300 tags and 20 branches, served through a GitHub-shaped API (the fixture
over the real git repository, on this machine) and, as the named peer, as a plain `git` source read with the
git CLI from the same repository, in the same run.

Prints, for each: the first sync's wall time and upstream requests; a no-change re-sync's requests and
database writes (target: at most 2 and 0); and, for the provider, push-to-installable latency through a
signed webhook against a running server (a new tag pushed, the webhook sent, `p2` polled until it lists it).

What it leaves out: the real GitHub's latency (every request here is on loopback, so the provider's time
is our work plus the fixture's), and the Worker (whose subrequest limit spreads a first sync of 300 tags
over several cron runs; see tests/integration/test_provider_sources.py).

    .venv/bin/python -m bench.sync [--tags 300] [--branches 20] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench import results
from package_broker.broker import Broker
from package_broker.runtimes.server.bootstrap import build_broker, migrate
from package_broker.sources.job import sync_source
from package_broker.sources.kinds import PROVIDERS
from package_broker.sources.providers.provider import Credentials
from package_broker.sources.providers.register import add_repository
from tests.conftest import BrokerServer, basic
from tests.e2e.providers import signed_push
from tests.fixtures.providers.github import GitHubFixture
from tests.helpers import Repo, git, php_package

TOKEN = "ghp_benchFixtureToken0123456789abcdef"


def make_repository(path: Path, tags: int, branches: int) -> Repo:
    """One commit per tag (each its own composer.json and archive), branches on the last commits."""
    repo = Repo(path)
    for i in range(tags):
        repo.commit({"composer.json": php_package("acme/big", "Acme\\Big"), "src/V.php": f"<?php // {i}\n"})
        repo.tag(f"v1.{i // 100}.{i % 100}")
    for b in range(branches):
        git(path, "branch", f"feature/b{b}", f"HEAD~{b}")
    return repo


class Counter:
    """Counts the database's write batches and single writes (a spy on the real adapter)."""

    def __init__(self, broker: Broker) -> None:
        self.writes = 0
        db = broker.ports.db
        real_batch, real_execute = db.batch, db.execute

        async def batch(statements: Any) -> None:
            self.writes += 1
            await real_batch(statements)

        async def execute(sql: str, params: Any = ()) -> int:
            if not sql.lstrip().upper().startswith("SELECT"):
                self.writes += 1
            return await real_execute(sql, params)

        db.batch = batch  # type: ignore[method-assign]
        db.execute = execute  # type: ignore[method-assign]


async def _broker(data: Path) -> Broker:
    broker = await build_broker({"DATA_DIR": str(data), "MEMO_SECONDS": "0", "PRIVATE_UPSTREAMS": "allow"})
    await migrate(broker)
    return broker


async def one_run(work: Path, repo: Repo, fixture: GitHubFixture) -> dict[str, float]:
    out: dict[str, float] = {}
    # The peer: the same repository as a plain git source (cloned, then read with the git CLI).
    broker = await _broker(work / "git")
    try:
        source = await broker.sources.add("git", str(repo.path))
        started = time.perf_counter()
        report = await sync_source(broker, source)
        out["git_first_s"] = time.perf_counter() - started
        assert report.status == "ok", report.message
    finally:
        await broker.close()

    broker = await _broker(work / "github")
    try:
        added = await add_repository(broker, PROVIDERS["github"], "acme/big", Credentials(TOKEN), api_url=fixture.url)
        counter = Counter(broker)
        seen, seen_codeload = len(fixture.requests), len(fixture.codeload.requests)
        started = time.perf_counter()
        report = await sync_source(broker, added.source)
        out["github_first_s"] = time.perf_counter() - started
        assert report.status == "ok", report.message
        out["github_first_requests"] = len(fixture.requests) - seen + len(fixture.codeload.requests) - seen_codeload
        out["github_first_writes"] = counter.writes
        seen, counter.writes = len(fixture.requests), 0
        started = time.perf_counter()
        report = await sync_source(broker, await broker.sources.get(added.source.id))
        out["github_nochange_s"] = time.perf_counter() - started
        out["github_nochange_requests"] = len(fixture.requests) - seen
        # The sync's own bookkeeping (lease taken, outcome recorded) is two single writes.
        out["github_nochange_writes_besides_lease"] = counter.writes - 2
        assert report.status == "ok" and not report.changed, report.message
    finally:
        await broker.close()
    return out


def webhook_latency(work: Path, repo: Repo, fixture: GitHubFixture, runs: int) -> list[float]:
    """Seconds from a tag push (the webhook sent) to `p2` listing it, against a running server."""
    server = BrokerServer(work / "server", extra_env={"GH_TOKEN": TOKEN, "PRIVATE_UPSTREAMS": "allow"}).start()
    try:
        added = json.loads(
            server.cli(
                "source", "add", "github", "acme/big", "--token-env", "GH_TOKEN", "--api-url", fixture.url, "--json"
            ).stdout
        )
        secret = server.token()
        latencies = []
        for i in range(runs):
            version = f"v9.0.{i}"
            repo.commit({"composer.json": php_package("acme/big", "Acme\\Big"), "src/V.php": f"<?php // {version}\n"})
            repo.tag(version)
            started = time.perf_counter()
            answer = signed_push(
                f"{server.url}/webhooks/github/{added['id']}",
                added["webhook"]["secret"],
                {"ref": f"refs/tags/{version}", "after": repo.head(), "n": i},
            )
            assert answer.status_code == 202, answer.text
            while (
                f'"version":"{version}"' not in httpx.get(f"{server.url}/p2/acme/big.json", headers=basic(secret)).text
            ):
                if time.perf_counter() - started > 120:
                    raise AssertionError(f"{version} never became installable")
                time.sleep(0.02)
            latencies.append(time.perf_counter() - started)
        return latencies
    finally:
        server.stop()


def spread(values: list[float]) -> str:
    if all(float(v).is_integer() for v in values):
        return f"{int(min(values))}-{int(max(values))}"
    return f"{min(values):.2f}-{max(values):.2f} (median {statistics.median(values):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tags", type=int, default=300)
    parser.add_argument("--branches", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--save", action="store_true", help="write bench/results/sync.json")
    args = parser.parse_args()
    os.umask(0o077)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        print(f"building a repository with {args.tags} tags and {args.branches} branches ...", flush=True)
        repo = make_repository(root / "big", args.tags, args.branches)
        fixture = GitHubFixture(token=TOKEN).start()
        # The tags were pushed an hour ago: a listing is trusted once it is a minute younger than the push.
        fixture.watch.offset = -3600
        fixture.add_repo("acme/big", repo.path)
        try:
            runs = [asyncio.run(one_run(root / f"run{i}", repo, fixture)) for i in range(args.runs)]
            latencies = webhook_latency(root / "hook", repo, fixture, args.runs)
        finally:
            fixture.stop()
    keys = runs[0].keys()
    table = {k: [r[k] for r in runs] for k in keys}
    versions = args.tags + args.branches + 1
    print(f"\n{versions} versions, {args.runs} runs each (min-max, median):")
    print(f"  first sync, plain git (git CLI, the peer):   {spread(table['git_first_s'])} s")
    print(
        f"  first sync, GitHub API (fixture on loopback): {spread(table['github_first_s'])} s, "
        f"{spread(table['github_first_requests'])} requests, {spread(table['github_first_writes'])} writes"
    )
    ratios = [g / p for g, p in zip(table["github_first_s"], table["git_first_s"], strict=True)]
    print(f"  ratio GitHub / git, first sync:               {spread(ratios)} x")
    print(
        f"  no-change re-sync, GitHub: {spread(table['github_nochange_s'])} s, "
        f"{spread(table['github_nochange_requests'])} requests (target <= 2), "
        f"{spread(table['github_nochange_writes_besides_lease'])} writes besides the lease (target 0)"
    )
    print(f"  push -> installable through a webhook (server, {args.runs} pushes): {spread(latencies)} s")
    if args.save:
        rows = [
            ("first sync, plain git (the peer), s", spread(table["git_first_s"]), ""),
            (
                f"first sync through the GitHub API, {versions} versions, s",
                f"{spread(table['github_first_s'])}; {spread(table['github_first_requests'])} requests, "
                f"{spread(table['github_first_writes'])} writes",
                f"{spread(ratios)} x plain git",
            ),
            (
                "no-change re-sync (GitHub API)",
                f"{spread(table['github_nochange_requests'])} requests, "
                f"{spread(table['github_nochange_writes_besides_lease'])} writes besides the lease",
                "<= 2 requests, 0 writes",
            ),
            ("push -> installable through a webhook, s", spread(latencies), "seconds"),
        ]
        results.save(
            "sync",
            {
                "runs": table,
                "webhook_latency_s": latencies,
                "table": [{"what": what, "figure": figure, "target": target} for what, figure, target in rows],
            },
            command="python -m bench.sync " + " ".join(sys.argv[1:]),
            leaves_out="the real GitHub's latency (the fixture answers on loopback), the Worker's subrequest "
            "limit (a first sync of 300 tags spreads over several cron runs there)",
        )


if __name__ == "__main__":
    main()
