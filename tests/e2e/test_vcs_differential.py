"""The broker against Composer's own `vcs` repository: same git repositories, same answers.

The corpus (tests/e2e/vcs_corpus.py) is served over HTTP by `git http-backend`. Composer 2.5.5 reads each
repository as a `vcs` repository; a real `package-broker serve` syncs the same URLs (twice: refs move
between the syncs) and Composer reads them through it. Three views must agree:

* `composer show -a --format=json <name>`, and the same for every version it lists;
* every version Composer loads, as its ArrayDumper writes it into composer.lock (`time`, `extra`, value
  types and all), loaded through `Factory::create` as `composer` loads it;
* the lock files of a few root projects (`composer update --no-install`).

Only what must differ is normalised: the broker serves a zip `dist`, whose reference must be the source
reference, and a `notification-url`; Composer's git driver serves neither.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from package_broker.runtimes.server.bootstrap import build_broker
from tests.conftest import BrokerServer, basic, require_tool
from tests.e2e import vcs_corpus
from tests.fixtures.git_http import GitHttpServer

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

#: Composer's own `show` command (its console Application, plugins off), run for the package and then for each
#: version in one PHP process, so the repositories are read once; and each version Composer loaded, as its
#: ArrayDumper writes it into composer.lock.
VIEWS_PHP = r"""<?php
require '/usr/share/php/Composer/autoload.php';
use Symfony\Component\Console\Input\ArrayInput;
use Symfony\Component\Console\Output\BufferedOutput;
use Symfony\Component\Console\Output\ConsoleOutputInterface;
use Symfony\Component\Console\Output\ConsoleSectionOutput;
use Symfony\Component\Console\Output\OutputInterface;
/** Like the console: what Composer writes to stderr (warnings) stays out of the JSON on stdout. */
final class Captured extends BufferedOutput implements ConsoleOutputInterface {
    private OutputInterface $error;
    public function __construct() { parent::__construct(); $this->error = new BufferedOutput(); }
    public function getErrorOutput(): OutputInterface { return $this->error; }
    public function setErrorOutput(OutputInterface $error): void { $this->error = $error; }
    public function section(): ConsoleSectionOutput { throw new LogicException('not a terminal'); }
}
$name = $argv[1];
$app = new Composer\Console\Application();
$app->setAutoExit(false);
$show = function (?string $version) use ($app, $name) {
    $output = new Captured();
    $arguments = ['command' => 'show', '--all' => true, '--format' => 'json', '--no-plugins' => true];
    $input = new ArrayInput($arguments + ['package' => $name] + ($version === null ? [] : ['version' => $version]));
    // A command keeps the IO of its first run: give it this run's.
    $app->find('show')->setIO(new Composer\IO\ConsoleIO($input, $output, $app->getHelperSet()));
    if ($app->run($input, $output) !== 0) {
        fwrite(STDERR, $output->fetch() . $output->getErrorOutput()->fetch());
        exit(1);
    }
    return json_decode($output->fetch(), true);
};
$shown = ['' => $show(null)];
$versions = [];
$repository = $app->getComposer()->getRepositoryManager()->getRepositories()[0];
foreach ($repository->findPackages($name) as $package) {
    $data = (new Composer\Package\Dumper\ArrayDumper())->dump($package);
    $aliased = $package instanceof Composer\Package\AliasPackage;
    $data['alias-of'] = $aliased ? $package->getAliasOf()->getPrettyVersion() : null;
    $versions[] = $data;
}
foreach (array_unique(array_column($versions, 'version')) as $version) {
    $shown[$version] = $show((string) $version);
}
$flags = JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_PRESERVE_ZERO_FRACTION;
echo json_encode(['versions' => $versions, 'show' => $shown], $flags);
"""

#: Root projects whose lock files must match: releases, branches, aliases and refs that moved.
ROOTS: dict[str, dict[str, Any]] = {
    "releases": {
        "require": {
            "corpus/odd-tags": "^1.0",
            "corpus/types": "1.0.0",
            "corpus/names": "^1.0",
            "corpus/versions": "^1.0",
            "corpus/annotated": "1.2.0",
            "corpus/encodings": "^1.0",
        }
    },
    "branches": {
        "minimum-stability": "dev",
        "require": {
            "corpus/branches": "4.0.x-dev",
            "corpus/moving": "dev-develop",
            "corpus/default-switch": "dev-next",
            "corpus/constraints": "1.0.0",
            "corpus/broken": "^1.0",
        },
    },
    "aliases": {
        "require": {
            "corpus/branches": "dev-feature/café",
            "corpus/types": "^2.0",
            "corpus/odd-tags": "2.0.0-beta.2@beta",
            "corpus/moving": "^1.1",
        }
    },
}
COMPOSER_FLAGS = ("--no-plugins", "--no-ansi", "--no-interaction")


@dataclass
class Side:
    """One way of reading the corpus: Composer's `vcs` repositories, or the broker."""

    name: str
    root: Path
    #: The `repositories` of a project about one package (or about all of them, for None).
    repositories: Callable[[str | None], list[Any]]
    auth: dict[str, Any] | None = None
    views: dict[str, Any] = field(default_factory=dict)

    def project(self, label: str, manifest: dict[str, Any], package: str | None = None) -> Path:
        path = self.root / label
        path.mkdir(parents=True, exist_ok=True)
        body = {
            "name": "differential/root",
            **manifest,
            "repositories": self.repositories(package),
            "config": {"secure-http": False, "allow-plugins": False},
        }
        (path / "composer.json").write_text(json.dumps(body, indent=2, ensure_ascii=False))
        if self.auth is not None:
            (path / "auth.json").write_text(json.dumps(self.auth))
        return path

    def run(self, project: Path, *args: str, home: Path | None = None) -> str:
        home = home or project / ".composer-home"
        env = {
            **os.environ,
            "COMPOSER_HOME": str(home),
            "COMPOSER_CACHE_DIR": str(home / "cache"),
            "COMPOSER_ALLOW_SUPERUSER": "1",
            "COMPOSER_DISABLE_XDEBUG_WARN": "1",
        }
        result = subprocess.run(args, cwd=project, env=env, capture_output=True, text=True, timeout=120, check=False)
        if result.returncode != 0:
            raise AssertionError(f"{self.name}: {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def read_package(self, package: str, script: Path) -> None:
        """`composer show` of one package and of each of its versions, and the versions Composer loaded.

        If Composer fails, the view is its error: the tests then say which package it failed on.
        """
        project = self.project(package.replace("/", "--"), {}, package)
        try:
            self.views[package] = json.loads(self.run(project, "php", str(script), package))
        except AssertionError as failure:
            self.views[package] = {"error": str(failure)[-2000:]}

    def lock(self, roots: dict[str, dict[str, Any]], composer: str) -> None:
        """The lock file of each root project: one after the other, as they share Composer's cache."""
        for label, manifest in roots.items():
            project = self.project(f"root-{label}", manifest)
            flags = ("--no-install", "--no-scripts", "--no-audit", *COMPOSER_FLAGS)
            try:
                self.run(project, composer, "update", *flags, home=self.root / "roots-home")
                self.views[f"lock:{label}"] = json.loads((project / "composer.lock").read_text())
            except AssertionError as failure:
                self.views[f"lock:{label}"] = {"error": str(failure)[-2000:]}


@dataclass
class Differential:
    vcs: Side
    broker: Side
    refs: dict[str, list[str]]
    #: The broker's sync reports, first and second sync.
    reports: list[list[dict[str, Any]]]

    def explain(self, package: str) -> str:
        notes = [r["message"] for r in self.reports[-1] if r["package"] in (package, None)]
        return f"\nthe broker's sync said: {notes}"


@pytest.fixture(scope="module")
def differential(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Differential]:
    """Build the corpus, sync it into a broker (twice), and read every view from both sides in parallel."""
    for tool in ("git", "php"):
        require_tool(tool)
    composer = require_tool("composer")
    root = tmp_path_factory.mktemp("differential")
    repos = vcs_corpus.build(root / "corpus")
    git_server = GitHttpServer(root / "corpus" / "served").start()
    broker = BrokerServer(root / "broker").start()
    try:
        urls = {name: f"{git_server.url}/{repo.bare.name}" for name, repo in repos.items()}
        token = broker.token("write")
        asyncio.run(add_sources(broker, list(urls.values())))
        reports = [sync(broker, token)]
        vcs_corpus.change(repos)
        reports.append(sync(broker, token))
        origin = broker.url.split("://", 1)[1]
        sides = (
            Side(
                "vcs",
                root / "vcs",
                lambda package: [
                    *({"type": "vcs", "url": url} for name, url in urls.items() if package in (None, name)),
                    {"packagist.org": False},
                ],
            ),
            Side(
                "broker",
                root / "via-broker",
                lambda package: [{"type": "composer", "url": broker.url}, {"packagist.org": False}],
                auth={"http-basic": {origin: {"username": "token", "password": token}}},
            ),
        )
        script = root / "views.php"
        script.write_text(VIEWS_PHP)
        with ThreadPoolExecutor(max_workers=min(16, 2 * (os.cpu_count() or 4))) as pool:
            jobs = [pool.submit(side.lock, ROOTS, composer) for side in sides]
            jobs += [pool.submit(side.read_package, name, script) for side in sides for name in repos]
            for job in jobs:
                job.result()
        refs = {n: r.git("for-each-ref", "--format=%(refname)", cwd=r.bare).splitlines() for n, r in repos.items()}
        yield Differential(*sides, refs, reports)
    finally:
        broker.stop()
        git_server.stop()


async def add_sources(broker: BrokerServer, urls: list[str]) -> None:
    """Register the git sources in the server's database (what `package-broker source add --no-sync` does,
    without a process per source)."""
    opened = await build_broker(broker.env)
    try:
        for url in urls:
            await opened.sources.add("git", url)
    finally:
        await opened.close()


def sync(broker: BrokerServer, token: str) -> list[dict[str, Any]]:
    """Sync every source through the API; returns the report of each (status, and the refs it skipped)."""
    response = httpx.post(f"{broker.url}/api/sync", headers=basic(token), timeout=300)
    assert response.status_code == 200, response.text
    return list(response.json()["sources"])


def loaded(side: Side, view: str) -> Any:
    """A view that Composer produced (fails the test with Composer's error if it could not)."""
    found = side.views[view]
    assert "error" not in found, found["error"]
    return found


def through_broker(entry: dict[str, Any]) -> dict[str, Any]:
    """A version as read through the broker, less what only the broker serves: its zip dist (checked here)."""
    entry = dict(entry)
    dist = entry.pop("dist")
    entry.pop("notification-url", None)
    assert dist["type"] == "zip" and dist["reference"] == entry["source"]["reference"], entry
    return entry


def test_the_corpus_is_as_awkward_as_promised(differential: Differential) -> None:
    assert len(differential.refs) >= 10
    assert sum(map(len, differential.refs.values())) >= 40


def test_every_source_syncs_whatever_its_refs_hold(differential: Differential) -> None:
    for reports in differential.reports:
        assert [(r["package"], r["status"]) for r in reports if r["status"] != "ok"] == []


@pytest.mark.parametrize("package", vcs_corpus.PACKAGES)
def test_every_version_loads_the_same(differential: Differential, package: str) -> None:
    def key(entry: dict[str, Any]) -> tuple[str, str]:
        return entry["version_normalized"], entry["alias-of"] or ""

    from_vcs = sorted(loaded(differential.vcs, package)["versions"], key=key)
    via_broker = sorted(map(through_broker, loaded(differential.broker, package)["versions"]), key=key)
    assert [key(v) for v in via_broker] == [key(v) for v in from_vcs], differential.explain(package)
    for ours, theirs in zip(via_broker, from_vcs, strict=True):
        assert ours == theirs, differential.explain(package)


@pytest.mark.parametrize("package", vcs_corpus.PACKAGES)
def test_composer_show_says_the_same(differential: Differential, package: str) -> None:
    from_vcs = loaded(differential.vcs, package)["show"]
    via_broker = {
        version: through_broker(shown) for version, shown in loaded(differential.broker, package)["show"].items()
    }
    assert via_broker[""]["versions"] == from_vcs[""]["versions"], differential.explain(package)
    assert via_broker == from_vcs, differential.explain(package)


@pytest.mark.parametrize("label", ROOTS)
def test_lock_files_are_the_same(differential: Differential, label: str) -> None:
    from_vcs = loaded(differential.vcs, f"lock:{label}")
    via_broker = loaded(differential.broker, f"lock:{label}")
    for lock in (from_vcs, via_broker):
        del lock["content-hash"]  # a hash of the root composer.json, whose repositories differ
    via_broker["packages"] = [through_broker(p) for p in via_broker["packages"]]
    assert [(p["name"], p["version"]) for p in via_broker["packages"]] == [
        (p["name"], p["version"]) for p in from_vcs["packages"]
    ]
    assert via_broker == from_vcs
