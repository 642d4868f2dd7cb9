"""`package-broker source add github|gitlab|bitbucket|gitea` as a user meets it: one repository or a whole
organisation, the webhook URL and secret shown once, the SQL for the Worker, and clear refusals."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.providers.github import GitHubFixture
from tests.helpers import Repo, php_package, run_cli

TOKEN = "ghp_cliFixtureToken0123456789abcdef"


@pytest.fixture
def github(tmp_path: Path) -> Iterator[GitHubFixture]:
    fixture = GitHubFixture(token=TOKEN).start()
    for name, manifest in (("acme/lib", True), ("acme/kit", True), ("acme/website", False)):
        repo = Repo(tmp_path / name.replace("/", "-"))
        files = {"composer.json": php_package(name, "Acme\\X")} if manifest else {"index.html": "<html>"}
        repo.commit(files)
        repo.tag("v1.0.0")
        fixture.add_repo(name, repo.path)
    yield fixture
    fixture.stop()


def cli(tmp_path: Path, *args: str) -> object:
    # PRIVATE_UPSTREAMS=allow: the fixture plays api.github.com and codeload on 127.0.0.1 (two ports).
    return run_cli(tmp_path / "data", *args, GH_TOKEN=TOKEN, PRIVATE_UPSTREAMS="allow")


def test_a_whole_organisation_is_added_with_a_webhook_each(tmp_path: Path, github: GitHubFixture) -> None:
    args = ("source", "add", "github", "acme", "--all", "--token-env", "GH_TOKEN", "--api-url", github.url)
    result = cli(tmp_path, *args, "--json")
    assert result.returncode == 0, result.stderr  # type: ignore[attr-defined]
    added = json.loads(result.stdout)  # type: ignore[attr-defined]
    assert sorted(a["url"].rsplit("/repos/", 1)[1] for a in added) == [
        "acme/kit",
        "acme/lib",
    ]  # no composer.json: left out
    for one in added:
        assert one["sync"]["status"] == "ok", one["sync"]
        assert one["webhook"]["url"].endswith(f"/webhooks/github/{one['id']}")
        assert len(one["webhook"]["secret"]) >= 40
    again = cli(tmp_path, *args)
    assert again.returncode == 0  # type: ignore[attr-defined]
    assert "Already a source: acme/kit" in again.stderr  # type: ignore[attr-defined]

    listed = cli(tmp_path, "source", "show", added[0]["id"])
    assert f"webhook: POST /webhooks/github/{added[0]['id']}" in listed.stdout  # type: ignore[attr-defined]
    for secret in (TOKEN, added[0]["webhook"]["secret"]):
        assert secret not in listed.stdout  # type: ignore[attr-defined]
        assert secret not in cli(tmp_path, "source", "list", "--json").stdout  # type: ignore[attr-defined]
    rotated = cli(tmp_path, "source", "webhook", added[0]["id"], "--json")
    assert json.loads(rotated.stdout)["webhook"]["secret"] != added[0]["webhook"]["secret"]  # type: ignore[attr-defined]


def test_the_human_output_shows_the_webhook_once_and_hides_the_token(tmp_path: Path, github: GitHubFixture) -> None:
    result = cli(tmp_path, "source", "add", "github", "acme/lib", "--token-env", "GH_TOKEN", "--api-url", github.url)
    out = result.stdout  # type: ignore[attr-defined]
    assert result.returncode == 0, result.stderr  # type: ignore[attr-defined]
    assert "(token stored encrypted)" in out and "Sync: ok" in out
    assert re.search(r"URL: +.*/webhooks/github/src_[0-9a-f]{10}", out)
    assert re.search(r"Secret: +\S{40,}", out)
    assert TOKEN not in out + result.stderr  # type: ignore[attr-defined]


def test_the_sql_for_the_worker_carries_sealed_secrets(tmp_path: Path) -> None:
    key = "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="  # base64 of 32 bytes
    result = run_cli(
        tmp_path / "data",
        "source",
        "add",
        "gitlab",
        "acme/tools/lib",
        "--token-env",
        "GL_TOKEN",
        "--sql",
        GL_TOKEN="glpat-secretvalue",
        ENCRYPTION_KEY=key,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("INSERT INTO sources")
    assert "https://gitlab.com/api/v4/projects/acme%2Ftools%2Flib" in result.stdout
    assert "glpat-secretvalue" not in result.stdout + result.stderr
    secret = re.search(r"Secret: +(\S+)", result.stderr)
    assert secret and secret[1] not in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("gitea", "acme/lib"), "Gitea has no public API: give the installation's API URL (--api-url)"),
        (("github", "acme"), "OWNER/REPO"),
        (("github", "acme/lib/../x"), "OWNER/REPO"),
        (("git", "/nowhere", "--api-url", "https://x"), "are for provider sources"),
        (("github", "acme/lib", "--token-env", "UNSET_VARIABLE"), "--token-env UNSET_VARIABLE: that variable is empty"),
    ],
)
def test_mistakes_are_one_clear_line(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    result = run_cli(tmp_path / "data", "source", "add", *args, "--no-sync")
    assert result.returncode != 0
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_a_provider_source_takes_a_new_token_but_not_another_repository(tmp_path: Path, github: GitHubFixture) -> None:
    added = json.loads(
        cli(
            tmp_path,
            "source",
            "add",
            "github",
            "acme/lib",
            "--token-env",
            "GH_TOKEN",
            "--api-url",
            github.url,
            "--json",
        ).stdout  # type: ignore[attr-defined]
    )
    moved = cli(tmp_path, "source", "edit", added["id"], "--url", "https://example.com/other")
    assert moved.returncode != 0  # type: ignore[attr-defined]
    assert "remove it and add the other repository" in moved.stderr  # type: ignore[attr-defined]
    edited = cli(tmp_path, "source", "edit", added["id"], "--token-env", "GH_TOKEN")
    assert edited.returncode == 0, edited.stderr  # type: ignore[attr-defined]
    assert cli(tmp_path, "sync").returncode == 0  # the new token reads everything again
