"""Syncing real git repositories (the real `git` CLI) into the catalog, through the in-process app."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from package_broker.broker import Broker
from package_broker.composer.minifier import expand
from package_broker.sources.job import sync_all, sync_source
from package_broker.sources.vcs import sync as git_source
from tests.conftest import Client, basic, require_tool
from tests.helpers import Repo, git, php_package


@pytest.fixture(autouse=True)
def _git() -> None:
    require_tool("git")


async def add_source(broker: Broker, url: str, credentials: dict[str, str] | None = None) -> str:
    sealed = await broker.seal_credentials(credentials) if credentials else None
    return (await broker.sources.add("git", url, sealed)).id


async def versions(client: Client, secret: str, name: str, dev: bool = False) -> dict[str, dict[str, Any]]:
    response, body = await client.request("GET", f"/p2/{name}{'~dev' if dev else ''}.json", headers=basic(secret))
    assert response.status == 200, body
    return {v["version"]: v for v in expand(json.loads(body)["packages"][name])}


async def reader(broker: Broker) -> str:
    return (await broker.tokens.create("reader"))[1]


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    r = Repo(tmp_path / "lib")
    r.commit({"composer.json": php_package("acme/lib", "Acme\\Lib"), "src/A.php": "<?php // 1.0"})
    r.tag("v1.0.0")
    r.commit({"src/A.php": "<?php // 1.1"})
    r.tag("v1.1.0", annotated=True)
    r.checkout("2.x", create=True)
    r.commit({"src/A.php": "<?php // 2.x"})
    r.checkout("main")
    return r


async def test_every_tag_and_branch_becomes_a_version(broker: Broker, client: Client, repo: Repo) -> None:
    source_id = await add_source(broker, str(repo.path))
    [report] = await sync_all(broker)
    assert report.status == "ok", report.message
    secret = await reader(broker)
    tags = await versions(client, secret, "acme/lib")
    assert set(tags) == {"v1.0.0", "v1.1.0"}
    assert tags["v1.1.0"]["version_normalized"] == "1.1.0.0"
    assert tags["v1.1.0"]["dist"]["reference"] == git(repo.path, "rev-parse", "v1.1.0^{commit}")
    branches = await versions(client, secret, "acme/lib", dev=True)
    assert set(branches) == {"dev-main", "2.x-dev"}
    assert branches["dev-main"]["default-branch"] is True
    assert "default-branch" not in branches["2.x-dev"]
    assert (await broker.sources.get(source_id)).status == "ok"


async def test_dists_are_git_archives_whose_sha1_is_the_shasum(broker: Broker, client: Client, repo: Repo) -> None:
    await add_source(broker, str(repo.path))
    await sync_all(broker)
    secret = await reader(broker)
    version = (await versions(client, secret, "acme/lib"))["v1.0.0"]
    path = version["dist"]["url"].split("broker.test", 1)[1]
    response, data = await client.request("GET", path, headers=basic(secret))
    assert response.status == 200
    assert hashlib.sha1(data).hexdigest() == version["dist"]["shasum"]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.read("src/A.php") == b"<?php // 1.0"
        assert "composer.json" in archive.namelist()


async def test_each_ref_uses_its_own_composer_json(broker: Broker, client: Client, repo: Repo) -> None:
    repo.commit({"composer.json": php_package("acme/lib", "Acme\\Lib", require={"php": ">=8.3"})})
    repo.tag("v1.2.0")
    await add_source(broker, str(repo.path))
    await sync_all(broker)
    tags = await versions(client, await reader(broker), "acme/lib")
    assert tags["v1.2.0"]["require"] == {"php": ">=8.3"}
    assert tags["v1.0.0"]["require"] == {"php": ">=8.1"}


async def test_branch_aliases_are_served(broker: Broker, client: Client, tmp_path: Path) -> None:
    r = Repo(tmp_path / "aliased")
    r.commit({"composer.json": php_package("acme/aliased", "A", extra={"branch-alias": {"dev-main": "3.1.x-dev"}})})
    await add_source(broker, str(r.path))
    await sync_all(broker)
    main = (await versions(client, await reader(broker), "acme/aliased", dev=True))["dev-main"]
    assert main["extra"]["branch-alias"] == {"dev-main": "3.1.x-dev"}


async def test_a_ref_with_broken_composer_json_is_skipped_with_a_reason(
    broker: Broker, client: Client, repo: Repo
) -> None:
    repo.commit({"composer.json": '{"name": "acme/lib", oops'})
    repo.tag("v1.3.0")
    repo.commit({"composer.json": php_package("acme/lib", "Acme\\Lib")})
    source_id = await add_source(broker, str(repo.path))
    [report] = await sync_all(broker)
    assert report.status == "ok"
    reasons = dict(report.skipped)
    assert reasons["v1.3.0"].startswith("composer.json is not valid JSON: Expecting property name enclosed in")
    refs = await broker.sources.refs(source_id)
    assert refs["refs/tags/v1.3.0"]["status"] == "skipped"
    assert "not valid JSON" in refs["refs/tags/v1.3.0"]["reason"]
    assert "v1.3.0" in (await broker.sources.get(source_id)).status_message  # type: ignore[operator]
    assert set(await versions(client, await reader(broker), "acme/lib")) == {"v1.0.0", "v1.1.0"}


async def test_a_branch_broken_by_a_new_commit_keeps_serving_its_last_good_version(
    broker: Broker, client: Client, repo: Repo
) -> None:
    await add_source(broker, str(repo.path))
    await sync_all(broker)
    secret = await reader(broker)
    good = (await versions(client, secret, "acme/lib", dev=True))["dev-main"]["dist"]["reference"]
    repo.commit({"composer.json": "not json at all"})
    [report] = await sync_all(broker)
    assert ("main", "composer.json is not valid JSON: Expecting value at line 1 column 1") in report.skipped
    assert (await versions(client, secret, "acme/lib", dev=True))["dev-main"]["dist"]["reference"] == good


async def test_tags_composer_would_reject_are_skipped(broker: Broker, client: Client, repo: Repo) -> None:
    repo.commit({"composer.json": php_package("acme/lib", "Acme\\Lib", version="9.9.9")})
    repo.tag("v1.4.0")
    repo.tag("not-a-version")
    await add_source(broker, str(repo.path))
    [report] = await sync_all(broker)
    reasons = dict(report.skipped)
    assert "does not match the version in composer.json" in reasons["v1.4.0"]
    assert "not a valid version name" in reasons["not-a-version"]
    assert set(await versions(client, await reader(broker), "acme/lib")) == {"v1.0.0", "v1.1.0"}


async def test_refs_are_served_under_the_name_the_default_branch_gives(
    broker: Broker, client: Client, repo: Repo
) -> None:
    """As Composer's VCS repository does: a renamed package keeps its old tags installable under the new name."""
    repo.checkout("renamed", create=True)
    repo.commit({"composer.json": php_package("other/name", "X")})
    repo.tag("v1.5.0")
    repo.commit({"composer.json": json.dumps({"description": "no name at all"})})
    repo.tag("v1.6.0")
    repo.checkout("main")
    await add_source(broker, str(repo.path))
    [report] = await sync_all(broker)
    assert report.skipped == []
    tags = await versions(client, await reader(broker), "acme/lib")
    assert set(tags) == {"v1.0.0", "v1.1.0", "v1.5.0", "v1.6.0"}
    assert {tag["name"] for tag in tags.values()} == {"acme/lib"}


async def test_without_a_name_on_the_default_branch_refs_must_name_the_package(
    broker: Broker, client: Client, repo: Repo
) -> None:
    repo.checkout("renamed", create=True)
    repo.commit({"composer.json": php_package("other/name", "X")})
    repo.tag("v1.5.0")
    repo.checkout("main")
    repo.commit({"composer.json": json.dumps({"description": "the default branch names nothing"})})
    await add_source(broker, str(repo.path))
    [report] = await sync_all(broker)
    reasons = dict(report.skipped)
    assert reasons["main"] == 'composer.json needs a "name" such as "acme/library"'
    assert "names other/name" in reasons["v1.5.0"] and "names other/name" in reasons["renamed"]
    assert set(await versions(client, await reader(broker), "acme/lib")) == {"v1.0.0", "v1.1.0"}


async def test_a_deleted_tag_leaves_metadata_but_its_dist_stays_downloadable(
    broker: Broker, client: Client, repo: Repo
) -> None:
    await add_source(broker, str(repo.path))
    await sync_all(broker)
    secret = await reader(broker)
    old = (await versions(client, secret, "acme/lib"))["v1.0.0"]
    git(repo.path, "tag", "-d", "v1.0.0")
    [report] = await sync_all(broker)
    assert report.changed
    assert set(await versions(client, secret, "acme/lib")) == {"v1.1.0"}
    response, data = await client.request("GET", old["dist"]["url"].split("broker.test", 1)[1], headers=basic(secret))
    assert response.status == 200 and hashlib.sha1(data).hexdigest() == old["dist"]["shasum"]


async def test_a_sync_that_finds_nothing_new_changes_nothing(broker: Broker, client: Client, repo: Repo) -> None:
    await add_source(broker, str(repo.path))
    await sync_all(broker)
    secret = await reader(broker)
    response, _ = await client.request("GET", "/p2/acme/lib.json", headers=basic(secret))
    [report] = await sync_all(broker)
    assert report.changed is False
    again, _ = await client.request("GET", "/p2/acme/lib.json", headers=basic(secret))
    assert again.header("last-modified") == response.header("last-modified")


async def test_an_unreachable_repository_keeps_the_last_good_metadata(
    broker: Broker, client: Client, repo: Repo
) -> None:
    source_id = await add_source(broker, str(repo.path))
    await sync_all(broker)
    secret = await reader(broker)
    before = await versions(client, secret, "acme/lib")
    repo.path.rename(repo.path.with_name("moved-away"))
    [report] = await sync_all(broker)
    assert report.status == "error" and "git fetch" in (report.message or "")
    source = await broker.sources.get(source_id)
    assert source.status == "error"
    assert await versions(client, secret, "acme/lib") == before


async def test_credentials_never_appear_in_errors(broker: Broker, tmp_path: Path) -> None:
    source_id = await add_source(
        broker, "http://127.0.0.1:9/nothing-listens-here.git", {"username": "deploy", "password": "s3cr3t-pass"}
    )
    report = await sync_source(broker, await broker.sources.get(source_id))
    assert report.status == "error"
    stored = await broker.sources.get(source_id)
    assert "s3cr3t" not in (report.message or "") and "s3cr3t" not in (stored.status_message or "")
    assert "s3cr3t" not in (stored.credentials or "")


async def test_two_repositories_cannot_claim_one_name(broker: Broker, repo: Repo, tmp_path: Path) -> None:
    twin = Repo(tmp_path / "twin")
    twin.commit({"composer.json": php_package("acme/lib", "Acme\\Lib")})
    await add_source(broker, str(repo.path))
    await add_source(broker, str(twin.path))
    first, second = await sync_all(broker)
    assert first.status == "ok"
    assert second.status == "error" and "already served from another source" in (second.message or "")


async def test_a_running_sync_holds_a_lease(broker: Broker, repo: Repo) -> None:
    source_id = await add_source(broker, str(repo.path))
    assert await broker.sources.acquire(source_id)
    report = await sync_source(broker, await broker.sources.get(source_id))
    assert report.status == "busy"


async def test_a_file_url_works_like_a_path(broker: Broker, client: Client, repo: Repo) -> None:
    await add_source(broker, f"file://{repo.path}")
    [report] = await sync_all(broker)
    assert report.status == "ok", report.message
    assert set(await versions(client, await reader(broker), "acme/lib")) == {"v1.0.0", "v1.1.0"}


async def test_a_private_repository_over_http_with_credentials(
    broker: Broker, client: Client, repo: Repo, tmp_path: Path
) -> None:
    from tests.fixtures.git_http import GitHttpServer

    served = tmp_path / "served"
    served.mkdir()
    git(served, "clone", "-q", "--bare", str(repo.path), "lib.git")
    server = GitHttpServer(served, "deploy", "s3cr3t-pass").start()
    try:
        wrong = await add_source(broker, f"{server.url}/lib.git", {"username": "deploy", "password": "wrong-pass"})
        report = await sync_source(broker, await broker.sources.get(wrong))
        assert report.status == "error" and "wrong-pass" not in (report.message or "")
        right = await broker.sources.add(
            "git",
            f"{server.url}/lib.git/",
            await broker.seal_credentials({"username": "deploy", "password": "s3cr3t-pass"}),
        )
        report = await sync_source(broker, right)
        assert report.status == "ok", report.message
        assert set(await versions(client, await reader(broker), "acme/lib")) == {"v1.0.0", "v1.1.0"}
        # The credentials went to the git server as HTTP Basic, and the served metadata has no source URL with them.
        assert any(header and header.startswith("Basic ") for header in server.authorizations)
        response, body = await client.request("GET", "/p2/acme/lib.json", headers=basic(await reader(broker)))
        assert b"s3cr3t" not in body and b"deploy" not in body
    finally:
        server.stop()


async def test_a_tag_with_a_constraint_composer_cannot_parse_is_skipped_alone(
    broker: Broker, client: Client, repo: Repo
) -> None:
    """Finding 1: served, the tag made Composer refuse the whole package ("Could not parse version constraint")."""
    repo.commit({"composer.json": php_package("acme/lib", "Acme\\Lib", require={"php": ">=8.1 <<9"})})
    repo.tag("v1.2.0")
    await add_source(broker, str(repo.path))
    [report] = await sync_all(broker)
    assert dict(report.skipped)["v1.2.0"] == 'Could not parse version constraint <<9: Invalid version string "<9"'
    assert set(await versions(client, await reader(broker), "acme/lib")) == {"v1.0.0", "v1.1.0"}


async def test_a_composer_json_with_a_byte_order_mark_is_skipped_as_composer_skips_it(
    broker: Broker, client: Client, repo: Repo
) -> None:
    repo.commit({"composer.json": "\ufeff" + json.dumps(php_package("acme/lib", "Acme\\Lib"))})
    repo.tag("v1.2.0")
    await add_source(broker, str(repo.path))
    [report] = await sync_all(broker)
    assert "byte order mark" in dict(report.skipped)["v1.2.0"]
    assert set(await versions(client, await reader(broker), "acme/lib")) == {"v1.0.0", "v1.1.0"}


async def test_one_unreadable_tag_never_ends_the_sync_of_the_others(
    broker: Broker, client: Client, repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Finding 2: a lone surrogate escape or a deep value ended the whole sync with "internal error"."""
    source_id = await add_source(broker, str(repo.path))
    await sync_all(broker)
    valid = json.dumps(php_package("acme/lib", "Acme\\Lib"))
    repo.commit({"composer.json": valid[:-1] + ', "description": "\\ud800"}'})
    repo.tag("v1.2.0")
    repo.commit({"composer.json": valid[:-1] + ', "extra": ' + "[" * 3000 + "]" * 3000 + "}"})
    repo.tag("v1.3.0")
    repo.commit({"composer.json": valid})
    repo.tag("v1.4.0")
    repo.tag("v1.5.0")
    main = repo.commit({"src/A.php": "<?php // next"})
    real_tag_version = git_source.tag_version

    def failing(tag: str, version: object = None) -> object:
        if tag == "v1.5.0":
            raise ZeroDivisionError("a bug in one ref")
        return real_tag_version(tag, version)

    monkeypatch.setattr(git_source, "tag_version", failing)
    [report] = await sync_all(broker)
    assert report.status == "ok", report.message
    reasons = dict(report.skipped)
    assert "half a UTF-16 surrogate pair" in reasons["v1.2.0"]
    assert "more than 511 levels deep" in reasons["v1.3.0"]
    assert reasons["v1.5.0"] == "unexpected ZeroDivisionError while reading this ref: a bug in one ref"
    secret = await reader(broker)
    assert set(await versions(client, secret, "acme/lib")) == {"v1.0.0", "v1.1.0", "v1.4.0"}
    assert (await versions(client, secret, "acme/lib", dev=True))["dev-main"]["dist"]["reference"] == main
    assert (await broker.sources.get(source_id)).status == "ok"


async def test_default_branch_follows_upstream_head_without_a_push(broker: Broker, client: Client, repo: Repo) -> None:
    """Finding 4: the mark stayed on the old branch, and after the next push two branches carried it."""
    await add_source(broker, str(repo.path))
    await sync_all(broker)
    secret = await reader(broker)

    async def marked() -> set[str]:
        branches = await versions(client, secret, "acme/lib", dev=True)
        return {v for v, data in branches.items() if data.get("default-branch")}

    assert await marked() == {"dev-main"}
    repo.checkout("2.x")  # HEAD of the upstream repository: its default branch now
    [report] = await sync_all(broker)
    assert report.changed and await marked() == {"2.x-dev"}
    repo.checkout("main")
    repo.commit({"src/A.php": "<?php // pushed"})
    repo.checkout("2.x")
    await sync_all(broker)
    assert await marked() == {"2.x-dev"}


async def test_time_is_the_author_date_as_composer_reports_it(broker: Broker, client: Client, tmp_path: Path) -> None:
    """Finding 5: the committer date was served; Composer's git driver reports the author date."""
    r = Repo(tmp_path / "dated")
    r.commit({"composer.json": php_package("acme/dated", "A")})
    git(r.path, "commit", "-q", "--amend", "--no-edit", env={"GIT_COMMITTER_DATE": "2024-05-06T07:08:09Z"})
    git(
        r.path,
        "commit",
        "-q",
        "--amend",
        "--no-edit",
        "--date=2020-01-02T03:04:05Z",
        env={"GIT_COMMITTER_DATE": "2024-05-06T07:08:09Z"},
    )
    r.tag("1.0.0")
    await add_source(broker, str(r.path))
    await sync_all(broker)
    assert (await versions(client, await reader(broker), "acme/dated"))["1.0.0"]["time"] == "2020-01-02T03:04:05+00:00"


async def test_a_tag_of_a_tag_is_peeled_to_its_commit(broker: Broker, client: Client, repo: Repo) -> None:
    """Finding 6: the inner tag object's sha was served as the reference, and no time."""
    git(repo.path, "tag", "-a", "inner", "-m", "inner", "v1.0.0")
    git(repo.path, "tag", "-a", "v1.0.1", "-m", "outer", "inner")
    await add_source(broker, str(repo.path))
    await sync_all(broker)
    tag = (await versions(client, await reader(broker), "acme/lib"))["v1.0.1"]
    commit = git(repo.path, "rev-parse", "v1.0.0^{commit}")
    assert tag["dist"]["reference"] == commit and tag["time"]


async def test_refs_read_under_older_rules_are_read_again(broker: Broker, client: Client, repo: Repo) -> None:
    """Fixes to how refs are read reach refs that did not move since the last sync."""
    await add_source(broker, str(repo.path))
    await sync_all(broker)
    secret = await reader(broker)
    before = await versions(client, secret, "acme/lib")
    row = next(r for r in await broker.catalog.versions("acme/lib") if r.version == "v1.0.0")
    await broker.ports.db.execute(
        "UPDATE versions SET data = ? WHERE version_normalized = ?", (row.data.replace('"MIT"', '"stale"'), "1.0.0.0")
    )
    await broker.ports.db.execute("UPDATE broker_state SET value = '1' WHERE name LIKE 'git-rules:%'")
    broker.cache.forget()
    [report] = await sync_all(broker)
    assert report.changed and await versions(client, secret, "acme/lib") == before


async def test_a_ref_whose_name_is_not_utf8_is_skipped(broker: Broker, client: Client, repo: Repo) -> None:
    subprocess.run([b"git", b"-C", bytes(repo.path), b"branch", b"caf\xe9"], check=True)
    source_id = await add_source(broker, str(repo.path))
    [report] = await sync_all(broker)
    assert dict(report.skipped)["caf\\xe9"] == "its name is not UTF-8 text, which Composer metadata cannot carry"
    assert (await broker.sources.refs(source_id))["refs/heads/caf\\xe9"]["status"] == "skipped"
    assert set(await versions(client, await reader(broker), "acme/lib", dev=True)) == {"dev-main", "2.x-dev"}
