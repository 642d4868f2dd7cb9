"""The `package-broker` command line, run as a real process."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import require_tool
from tests.helpers import Repo, make_zip, php_package, run_cli


def cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_cli(tmp_path / "data", *args, **env)


@pytest.mark.parametrize(
    ("env", "line"),
    [
        (
            {"ENCRYPTION_KEY": base64.b64encode(b"x" * 16).decode()},
            "error: ENCRYPTION_KEY: must be base64 of exactly 32 bytes",
        ),
        ({"ENCRYPTION_KEY": "%%%"}, "error: ENCRYPTION_KEY: is not valid base64"),
        ({"DB_DRIVER": "mongodb"}, "error: DB_DRIVER: unknown driver 'mongodb'"),
        ({"STORAGE_DRIVER": "tape"}, "error: STORAGE_DRIVER: unknown driver 'tape'"),
        ({"PORT": "http"}, "error: PORT: must be a whole number"),
        ({"BASE_URL": "example.com"}, "error: BASE_URL: must be an absolute http(s) URL"),
        ({"LOG_LEVEL": "verbose"}, "error: LOG_LEVEL: must be debug, info, warning or error, got 'verbose'"),
    ],
)
def test_bad_configuration_exits_non_zero_with_one_line(tmp_path: Path, env: dict[str, str], line: str) -> None:
    for command in (["serve"], ["token", "list"]):
        result = cli(tmp_path, *command, **env)
        assert result.returncode == 2
        assert result.stderr.strip().splitlines()[-1].startswith(line), result.stderr
        assert "Traceback" not in result.stderr


def test_a_generated_key_is_kept_and_reused(tmp_path: Path) -> None:
    assert cli(tmp_path, "token", "list").returncode == 0
    key_file = tmp_path / "data" / "encryption.key"
    key = key_file.read_text()
    assert len(base64.b64decode(key)) == 32
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    cli(tmp_path, "token", "list")
    assert key_file.read_text() == key


def test_a_broken_key_file_is_named(tmp_path: Path) -> None:
    assert cli(tmp_path, "init").returncode == 0
    (tmp_path / "data" / "encryption.key").write_text("c2hvcnQ=\n")
    result = cli(tmp_path, "token", "list")
    assert result.returncode == 2 and "encryption.key" in result.stderr


def test_tokens_are_shown_once_and_listed_without_secrets(tmp_path: Path) -> None:
    created = cli(
        tmp_path,
        "token",
        "create",
        "-d",
        "CI pipeline",
        "--permission",
        "write",
        "--expires",
        "30d",
        "--allow-prefix",
        "acme/",
    )
    assert created.returncode == 0, created.stderr
    secret = next(word for word in created.stdout.split() if word.startswith("pkb_"))
    assert "composer config http-basic.127.0.0.1:8080 token " + secret in created.stdout
    listed = cli(tmp_path, "token", "list")
    assert "CI pipeline" in listed.stdout and "write" in listed.stdout and secret not in listed.stdout
    as_json = json.loads(cli(tmp_path, "token", "list", "--json").stdout)
    [mine] = [t for t in as_json if t["description"] == "CI pipeline"]
    assert mine["allowed_package_prefixes"] == ["acme/"] and secret not in json.dumps(as_json)
    assert mine["expires_at"].endswith("+00:00") and mine["state"] == "active"
    revoked = cli(tmp_path, "token", "revoke", mine["id"])
    assert revoked.returncode == 0 and "Revoked" in revoked.stdout
    assert "revoked" in cli(tmp_path, "token", "list").stdout


def test_token_create_refuses_bad_input(tmp_path: Path) -> None:
    assert cli(tmp_path, "token", "create", "-d", "x", "--expires", "soonish").returncode == 2
    bad_prefix = cli(tmp_path, "token", "create", "-d", "x", "--allow-prefix", "Acme/")
    assert bad_prefix.returncode == 1 and "lower-case" in bad_prefix.stderr
    assert cli(tmp_path, "token", "revoke", "tok_missing").returncode == 1


def test_publish_and_refusals(tmp_path: Path) -> None:
    good = tmp_path / "good.zip"
    good.write_bytes(make_zip({"composer.json": {"name": "acme/zip", "version": "1.0.0"}}))
    published = cli(tmp_path, "publish", str(good))
    assert published.returncode == 0 and "Published acme/zip 1.0.0" in published.stdout
    assert "Already published" in cli(tmp_path, "publish", str(good)).stdout
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip")
    refused = cli(tmp_path, "publish", str(bad))
    assert refused.returncode == 1 and refused.stderr.strip() == "error: the upload is not a zip archive"


def test_git_sources_are_added_synced_and_listed(tmp_path: Path) -> None:
    require_tool("git")
    repo = Repo(tmp_path / "repo")
    repo.commit({"composer.json": php_package("acme/cli", "Acme\\Cli")})
    repo.tag("1.0.0")
    added = cli(tmp_path, "source", "add", "git", str(repo.path))
    assert added.returncode == 0, added.stderr
    assert "Sync: ok: 2 versions of acme/cli" in added.stdout
    assert "ok" in cli(tmp_path, "source", "list").stdout
    assert cli(tmp_path, "sync").returncode == 0
    missing = cli(tmp_path, "source", "add", "git", str(tmp_path / "nope"))
    assert missing.returncode == 1 and "neither a URL nor an existing directory" in missing.stderr


def test_credentials_in_a_url_are_stored_encrypted_and_never_printed(tmp_path: Path) -> None:
    result = cli(tmp_path, "source", "add", "git", "https://deploy:s3cr3t@127.0.0.1:9/repo.git", "--no-sync")
    assert result.returncode == 0 and "credentials stored encrypted" in result.stdout
    assert "s3cr3t" not in result.stdout + result.stderr
    listed = cli(tmp_path, "source", "list", "--json")
    assert "s3cr3t" not in listed.stdout and "https://127.0.0.1:9/repo.git" in listed.stdout
    stored = b"".join(p.read_bytes() for p in (tmp_path / "data").glob("*.sqlite*"))
    assert b"127.0.0.1:9/repo.git" in stored and b"s3cr3t" not in stored


def test_a_corrupt_database_stops_every_command_at_once_with_one_line(tmp_path: Path) -> None:
    assert cli(tmp_path, "token", "create", "-d", "before").returncode == 0
    database = tmp_path / "data" / "package-broker.sqlite"
    damaged = bytearray(database.read_bytes())
    damaged[100:4096] = b"\xff" * (4096 - 100)
    database.write_bytes(bytes(damaged))
    for suffix in ("-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    for command in (["token", "list"], ["serve", "--port", "0"]):
        try:
            result = run_cli(tmp_path / "data", *command, timeout=20)
        except subprocess.TimeoutExpired:
            pytest.fail(f"`{' '.join(command)}` hung on a corrupt database instead of exiting")
        assert result.returncode != 0
        assert f"cannot open the SQLite database at {database}" in result.stderr
        assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("kind", "url", "secret", "says"),
    [
        ("git", "ssh://deploy:hunter2@git.example.com/acme/lib.git", "hunter2", "SSH key, not a password"),
        (
            "composer",
            "https://satis.example.com/?access_token=hunter2",
            "hunter2",
            "'access_token' looks like a secret",
        ),
        ("git", "https://git.example.com/acme/lib.git?private_token=hunter2", "hunter2", "looks like a secret"),
    ],
)
def test_a_source_url_holding_a_secret_is_refused_and_never_echoed(
    tmp_path: Path, kind: str, url: str, secret: str, says: str
) -> None:
    for extra in ([], ["--sql"]):
        result = cli(
            tmp_path,
            "source",
            "add",
            kind,
            url,
            "--no-sync",
            *extra,
            ENCRYPTION_KEY=base64.b64encode(b"k" * 32).decode(),
        )
        assert result.returncode != 0
        assert says in result.stderr
        assert secret not in result.stdout + result.stderr
    listed = cli(tmp_path, "source", "list", "--json")
    assert secret not in listed.stdout


def test_a_second_serve_on_a_busy_port_exits_at_once_and_the_first_keeps_serving(tmp_path: Path) -> None:
    from tests.conftest import BrokerServer

    first = BrokerServer(tmp_path / "first").start()
    try:
        second = run_cli(tmp_path / "second", "serve", timeout=30, PORT=str(first.port), HOST="127.0.0.1")
        assert second.returncode == 1
        lines = second.stderr.strip().splitlines()
        assert lines == [
            f"error: cannot listen on 127.0.0.1:{first.port}: Address already in use (is another "
            "broker running there? set PORT to use another port)"
        ], second.stderr
        assert not (tmp_path / "second" / "package-broker.sqlite").exists()  # nothing was created
        import httpx

        assert httpx.get(f"{first.url}/health").status_code == 200
    finally:
        first.stop()


@pytest.mark.parametrize(
    ("driver", "module", "extra"),
    [
        ({"DB_DRIVER": "postgresql", "DB_URL": "postgresql://x@127.0.0.1:9/x"}, "psycopg", "postgresql"),
        ({"CACHE_DRIVER": "redis"}, "redis", "redis"),
        ({"STORAGE_DRIVER": "s3", "S3_BUCKET": "b"}, "boto3", "s3"),
    ],
)
def test_a_driver_without_its_package_names_the_extra_to_install(
    tmp_path: Path, driver: dict[str, str], module: str, extra: str
) -> None:
    # As if the extra were not installed: the driver's package cannot be imported.
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text(f"import sys\nsys.modules[{module!r}] = None\n")
    result = cli(tmp_path, "token", "list", PYTHONPATH=str(hide), **driver)
    assert result.returncode == 2, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert f"pip install 'package-broker[{extra}]'" in line and "Traceback" not in result.stderr


def test_a_command_run_where_there_is_no_broker_says_where_it_looked_and_creates_nothing(tmp_path: Path) -> None:
    for command in (["token", "create", "-d", "x"], ["source", "list"], ["sync"], ["package", "list"]):
        result = run_cli(tmp_path / "data", *command, init=False)
        assert result.returncode == 1, result.stderr
        assert result.stderr.strip() == (
            f"error: no broker at {tmp_path / 'data'}: run this where `package-broker serve` runs, set DATA_DIR "
            "to its data, or create a new broker there with `package-broker init`"
        )
    assert not (tmp_path / "data").exists()
    created = run_cli(tmp_path / "data", "init")
    assert created.returncode == 0 and "pkb_" in created.stdout
    assert run_cli(tmp_path / "data", "token", "list", init=False).returncode == 0


def test_token_create_prints_the_url_the_running_server_serves(tmp_path: Path) -> None:
    from tests.conftest import BrokerServer

    server = BrokerServer(tmp_path / "broker").start()
    try:
        # Run from a shell that does not know the server's port (PORT unset: 8080 would be the guess).
        created = run_cli(server.data_dir, "token", "create", "-d", "laptop", init=False).stdout
        assert f"composer config repositories.package-broker composer http://127.0.0.1:{server.port}" in created
        assert f"composer config http-basic.127.0.0.1:{server.port} token pkb_" in created
        assert "composer config secure-http false" in created
    finally:
        server.stop()


def test_sync_on_a_terminal_shows_a_progress_bar_then_one_line_per_source(tmp_path: Path) -> None:
    import os
    import pty
    import subprocess as sp
    import sys

    repo = Repo(tmp_path / "lib")
    repo.commit({"composer.json": php_package("acme/lib", "Acme\\Lib")})
    repo.tag("v1.0.0")
    assert cli(tmp_path, "source", "add", "git", str(repo.path), "--no-sync").returncode == 0
    assert cli(tmp_path, "source", "add", "composer", "http://127.0.0.1:9/", "--no-sync").returncode == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "STORAGE_", "CACHE_"))}
    env.update(DATA_DIR=str(tmp_path / "data"), COLUMNS="120")
    primary, replica = pty.openpty()
    process = sp.Popen(
        [sys.executable, "-m", "package_broker.runtimes.server.cli", "sync"],
        stdin=replica,
        stdout=replica,
        stderr=replica,
        env=env,
        close_fds=True,
    )
    os.close(replica)
    output = b""
    while True:
        try:
            chunk = os.read(primary, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    process.wait(60)
    os.close(primary)
    text = output.decode("utf-8", "replace")
    assert "Syncing" in text and "2/2" in text, text
    lines = [line for line in text.replace("\r", "\n").splitlines() if line.startswith("src_")]
    # Both were added in the same second: the order between them is by id, so compare without it.
    assert sorted(line.split(":")[1].strip() for line in lines) == ["error", "ok"], text
    assert process.returncode == 1  # one source failed


@pytest.mark.parametrize("kind", ["a file", "under /proc"])
def test_an_unusable_data_dir_is_one_line_naming_the_path(tmp_path: Path, kind: str) -> None:
    data = tmp_path / "data"
    if kind == "a file":
        data.write_text("not a directory")
    else:
        data = Path("/proc/package-broker-data")
    for command in (["init"], ["serve", "--port", "0"], ["migrate"]):
        result = run_cli(data, *command, timeout=30)
        assert result.returncode == 2, result.stderr
        assert result.stderr.strip().splitlines() == [
            f"error: DATA_DIR: {data} is not a usable directory: "
            + ("File exists" if kind == "a file" else "No such file or directory")
        ]


def test_every_command_that_prints_data_speaks_json(tmp_path: Path) -> None:
    archive = tmp_path / "a.zip"
    archive.write_bytes(make_zip({"composer.json": {"name": "acme/json", "version": "1.0.0"}}))
    published = json.loads(cli(tmp_path, "publish", str(archive), "--json").stdout)
    assert (published["name"], published["version"], published["changed"]) == ("acme/json", "1.0.0", True)
    repo = Repo(tmp_path / "lib")
    repo.commit({"composer.json": php_package("acme/jsonlib", "Acme\\Lib")})
    repo.tag("v1.0.0")
    added = json.loads(cli(tmp_path, "source", "add", "git", str(repo.path), "--json").stdout)
    assert added["kind"] == "git" and added["sync"]["status"] == "ok" and added["created_at"].endswith("+00:00")
    synced = json.loads(cli(tmp_path, "sync", "--json").stdout)
    assert [r["status"] for r in synced if r["source_id"] == added["id"]] == ["ok"]
    for command in (["token", "list"], ["source", "list"], ["package", "list"], ["source", "show", added["id"]]):
        assert json.loads(cli(tmp_path, *command, "--json").stdout), command
