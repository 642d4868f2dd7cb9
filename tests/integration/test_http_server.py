"""The Composer endpoints over real HTTP against `package-broker serve` (granian, SQLite, filesystem)."""

from __future__ import annotations

import gzip
import hashlib
import json
import socket
import sqlite3
import time
from contextlib import closing
from email.utils import formatdate
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import BrokerServer, basic
from tests.helpers import make_zip

LIB = {"name": "acme/lib", "description": "Acme library", "autoload": {"psr-4": {"Acme\\Lib\\": "src/"}}}
OTHER = {"name": "other/tool", "description": "Another vendor"}


def publish(server: BrokerServer, tmp: Path, manifest: dict[str, Any], version: str, **files: str) -> dict[str, Any]:
    archive = tmp / f"{manifest['name'].replace('/', '-')}-{version}.zip"
    archive.write_bytes(make_zip({"composer.json": manifest, **{f"src/{k}": v for k, v in files.items()}}))
    writer = server.token("write")
    response = httpx.post(
        f"{server.url}/api/artifacts",
        params={"version": version},
        content=archive.read_bytes(),
        headers={**basic(writer), "content-type": "application/zip"},
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


@pytest.fixture
def populated(server: BrokerServer, tmp_path: Path) -> BrokerServer:
    publish(server, tmp_path, LIB, "1.0.0", **{"A.php": "<?php // 1.0"})
    publish(server, tmp_path, LIB, "1.1.0", **{"A.php": "<?php // 1.1"})
    publish(server, tmp_path, LIB, "dev-main", **{"A.php": "<?php // main"})
    publish(server, tmp_path, OTHER, "2.0.0")
    return server


def get(server: BrokerServer, path: str, secret: str | None, **headers: str) -> httpx.Response:
    auth = basic(secret) if secret else {}
    return httpx.get(f"{server.url}{path}", headers={**auth, **headers})


def test_health_reports_each_dependency(server: BrokerServer) -> None:
    response = httpx.get(f"{server.url}/health")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "cache": "ok", "storage": "ok"}


def test_health_is_degraded_when_storage_breaks(server: BrokerServer) -> None:
    storage = server.data_dir / "artifacts"
    storage.mkdir(parents=True, exist_ok=True)
    (storage / "health").write_text("a file where a directory is expected")
    response = httpx.get(f"{server.url}/health")
    assert response.status_code == 503
    assert response.json()["status"] == "degraded" and response.json()["checks"]["storage"] == "error"


@pytest.mark.parametrize("path", ["/packages.json", "/p2/acme/lib.json", f"/dists/acme/lib/{'a' * 40}.zip"])
def test_missing_credentials_get_401_with_a_warning_composer_prints(server: BrokerServer, path: str) -> None:
    response = get(server, path, None)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/json"
    assert response.headers["www-authenticate"].startswith("Basic")
    body = response.json()
    assert body["reason"] == "missing"
    assert f"http-basic.127.0.0.1:{server.port} token" in body["warning"]


def _create(server: BrokerServer, *args: str) -> dict[str, Any]:
    result = server.cli("token", "create", "--description", "test", "--json", *args)
    return dict(json.loads(result.stdout))


def test_each_kind_of_bad_token_is_named(server: BrokerServer) -> None:
    from package_broker.access import tokens

    revoked = _create(server)
    server.cli("token", "revoke", revoked["id"])
    expired = _create(server, "--expires", "2h")
    # Time is data: move the expiry into the past in the database (before the token is ever looked up).
    with closing(sqlite3.connect(server.data_dir / "package-broker.sqlite")) as db, db:
        db.execute("UPDATE tokens SET expires_at = ? WHERE id = ?", (int(time.time()) - 60, expired["id"]))
    cases = {
        "malformed": (basic("hunter2"), "not a PACKAGE.broker token"),
        "unknown": (basic(tokens.generate()), "not known to"),
        "revoked": (basic(revoked["token"]), "was revoked on"),
        "expired": (basic(expired["token"]), "expired on"),
    }
    for reason, (headers, text) in cases.items():
        response = httpx.get(f"{server.url}/packages.json", headers={**headers, "x-request-id": f"bad-{reason}"})
        assert response.status_code == 401, reason
        assert response.json()["reason"] == reason
        assert text in response.json()["warning"]
    # The server's log line of each refusal says why, and whose token it was when the token is known.
    logged = {line["request_id"]: line for line in server.requests() if line["request_id"].startswith("bad-")}
    assert {r: (logged[f"bad-{r}"]["refused"], logged[f"bad-{r}"]["token_id"]) for r in cases} == {
        "malformed": ("malformed", None),
        "unknown": ("unknown", None),
        "revoked": ("revoked", revoked["id"]),
        "expired": ("expired", expired["id"]),
    }


def test_revoked_token_stops_working_within_a_second(server: BrokerServer) -> None:
    secret = server.token("readonly")
    assert get(server, "/packages.json", secret).status_code == 200
    token_id = next(
        t["id"] for t in json.loads(server.cli("token", "list", "--json").stdout) if t["token_prefix"] == secret[:8]
    )
    server.cli("token", "revoke", token_id)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        response = get(server, "/packages.json", secret)
        if response.status_code == 401:
            break
        time.sleep(0.1)
    assert response.status_code == 401
    assert response.json()["reason"] == "revoked"
    assert "was revoked on" in response.json()["warning"]


def test_packages_json_lists_what_the_token_may_see(populated: BrokerServer) -> None:
    everything = populated.token("readonly")
    scoped = populated.token("readonly", "--allow-prefix", "acme/")
    full = get(populated, "/packages.json", everything)
    assert full.status_code == 200
    assert full.json()["available-packages"] == ["acme/lib", "other/tool"]
    assert full.json()["metadata-url"] == f"http://127.0.0.1:{populated.port}/p2/%package%.json"
    assert full.headers["cache-control"].startswith("private")
    assert "last-modified" in full.headers
    assert get(populated, "/packages.json", scoped).json()["available-packages"] == ["acme/lib"]


def test_p2_serves_minified_versions_with_absolute_dist_urls(populated: BrokerServer) -> None:
    secret = populated.token("readonly")
    response = get(populated, "/p2/acme/lib.json", secret)
    assert response.status_code == 200
    body = response.json()
    assert body["minified"] == "composer/2.0"
    versions = body["packages"]["acme/lib"]
    assert [v.get("version") for v in versions] == ["1.1.0", "1.0.0"]
    assert versions[0]["dist"]["url"].startswith(f"http://127.0.0.1:{populated.port}/dists/acme/lib/")
    dev = get(populated, "/p2/acme/lib~dev.json", secret).json()["packages"]["acme/lib"]
    assert [v["version"] for v in dev] == ["dev-main"]


def test_dist_bytes_match_the_shasum_in_metadata(populated: BrokerServer) -> None:
    secret = populated.token("readonly")
    version = get(populated, "/p2/acme/lib.json", secret).json()["packages"]["acme/lib"][0]
    download = httpx.get(version["dist"]["url"], headers=basic(secret))
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/zip"
    assert hashlib.sha1(download.content).hexdigest() == version["dist"]["shasum"]
    assert download.headers["cache-control"].startswith("private")


def test_unknown_package_is_a_fast_404(populated: BrokerServer) -> None:
    secret = populated.token("readonly")
    assert get(populated, "/p2/acme/nope.json", secret).status_code == 404
    assert get(populated, f"/dists/acme/lib/{'0' * 40}.zip", secret).status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/p2/acme/../other/tool.json",
        "/p2/acme%2Flib.json",
        "/p2/ACME/LIB.json",
        "/p2/acme/lib.json.json",
        "/dists/acme/lib/../../etc/passwd.zip",
        "/p2/acme/%2e%2e.json",
    ],
)
def test_traversal_and_case_tricks_find_nothing(populated: BrokerServer, path: str) -> None:
    secret = populated.token("readonly")
    # A raw socket: HTTP clients would normalise "/../" away before sending.
    with socket.create_connection(("127.0.0.1", populated.port)) as sock:
        auth = basic(secret)["authorization"]
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nConnection: close\r\n\r\n".encode())
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    status = int(reply.split(b" ", 2)[1])
    assert status == 404
    assert b"Acme library" not in reply and b"Another vendor" not in reply


def test_a_scoped_token_gets_403_whether_or_not_the_package_exists(populated: BrokerServer) -> None:
    scoped = populated.token("readonly", "--allow-prefix", "acme/")
    exists = get(populated, "/p2/other/tool.json", scoped)
    missing = get(populated, "/p2/other/ghost.json", scoped)
    assert exists.status_code == missing.status_code == 403
    assert exists.json()["warning"] == missing.json()["warning"].replace("ghost", "tool")
    dist_url = get(populated, "/p2/other/tool.json", populated.token("readonly")).json()["packages"]["other/tool"][0]
    assert httpx.get(dist_url["dist"]["url"], headers=basic(scoped)).status_code == 403


def test_if_modified_since_gets_an_empty_304(populated: BrokerServer) -> None:
    secret = populated.token("readonly")
    first = get(populated, "/p2/acme/lib.json", secret)
    last_modified = first.headers["last-modified"]
    again = get(populated, "/p2/acme/lib.json", secret, **{"if-modified-since": last_modified})
    assert again.status_code == 304 and again.content == b""
    older = formatdate(time.time() - 86400 * 365, usegmt=True)
    assert get(populated, "/p2/acme/lib.json", secret, **{"if-modified-since": older}).status_code == 200
    root = get(populated, "/packages.json", secret)
    assert (
        get(populated, "/packages.json", secret, **{"if-modified-since": root.headers["last-modified"]}).status_code
        == 304
    )


def test_a_new_version_moves_last_modified_forward(populated: BrokerServer, tmp_path: Path) -> None:
    secret = populated.token("readonly")
    before = get(populated, "/p2/acme/lib.json", secret).headers["last-modified"]
    publish(populated, tmp_path, LIB, "1.2.0", **{"A.php": "<?php // 1.2"})
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        response = get(populated, "/p2/acme/lib.json", secret, **{"if-modified-since": before})
        if response.status_code == 200:
            break
        time.sleep(0.1)
    assert response.status_code == 200
    assert response.json()["packages"]["acme/lib"][0]["version"] == "1.2.0"


def test_json_is_gzipped_when_accepted(populated: BrokerServer) -> None:
    secret = populated.token("readonly")
    headers = {**basic(secret), "accept-encoding": "gzip"}
    with httpx.Client() as client, client.stream("GET", f"{populated.url}/p2/acme/lib.json", headers=headers) as raw:
        on_the_wire = b"".join(raw.iter_raw())  # the bytes the server sent, not decoded by the client
    assert raw.headers["content-encoding"] == "gzip"
    plain = get(populated, "/p2/acme/lib.json", secret, **{"accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert gzip.decompress(on_the_wire) == plain.content
    assert len(on_the_wire) < len(plain.content) and int(raw.headers["content-length"]) == len(on_the_wire)


def test_head_sends_headers_without_a_body(populated: BrokerServer) -> None:
    secret = populated.token("readonly")
    response = httpx.head(f"{populated.url}/p2/acme/lib.json", headers={**basic(secret), "accept-encoding": "identity"})
    assert response.status_code == 200 and response.content == b""
    assert int(response.headers["content-length"]) == len(
        get(populated, "/p2/acme/lib.json", secret, **{"accept-encoding": "identity"}).content
    )


def test_composer_1_gets_a_clear_error(populated: BrokerServer) -> None:
    secret = populated.token("readonly")
    old = {"user-agent": "Composer/1.10.26 (Linux; PHP 7.4)"}
    root = get(populated, "/packages.json", secret, **old)
    assert root.status_code == 200  # Composer 1 prints the warning of a root file it can read
    assert root.json()["packages"] == [] and "Composer 2" in root.json()["warning"]
    assert root.json()["warning-versions"] == "<1.999"
    p2 = get(populated, "/p2/acme/lib.json", secret, **old)
    assert p2.status_code == 406 and "composer self-update --2" in p2.json()["warning"]


def test_wrong_methods_get_405(server: BrokerServer) -> None:
    response = httpx.post(f"{server.url}/packages.json")
    assert response.status_code == 405 and "GET" in response.headers["allow"]
    assert httpx.delete(f"{server.url}/p2/acme/lib.json").status_code == 405


def test_list_and_search_respect_prefixes(populated: BrokerServer) -> None:
    scoped = populated.token("readonly", "--allow-prefix", "acme/")
    assert get(populated, "/list.json", scoped).json() == {"packageNames": ["acme/lib"]}
    everything = populated.token("readonly")
    assert get(populated, "/list.json?filter=other/*", everything).json() == {"packageNames": ["other/tool"]}
    results = get(populated, "/search.json?q=vendor", scoped).json()["results"]
    assert results == []
    assert [r["name"] for r in get(populated, "/search.json?q=vendor", everything).json()["results"]] == ["other/tool"]


def test_notify_batch_counts_downloads(populated: BrokerServer) -> None:
    secret = populated.token("readonly")
    body = {"downloads": [{"name": "acme/lib", "version": "1.0.0.0"}, {"name": "../x", "version": "1"}]}
    response = httpx.post(f"{populated.url}/downloads/", json=body, headers=basic(secret))
    assert response.status_code == 200 and response.json() == {"status": "success"}
    deadline = time.monotonic() + 5  # counted after the response is sent
    while True:
        with closing(sqlite3.connect(populated.data_dir / "package-broker.sqlite")) as db:
            rows = db.execute("SELECT package, version_normalized, count FROM downloads").fetchall()
        if rows or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert rows == [("acme/lib", "1.0.0.0", 1)]
    bad = httpx.post(f"{populated.url}/downloads/", content=b"{not json", headers=basic(secret))
    assert bad.status_code == 400


def test_every_request_is_one_json_log_line_without_secrets(populated: BrokerServer) -> None:
    secret = populated.token("readonly")
    get(populated, "/p2/acme/lib.json", secret, **{"x-request-id": "trace-me-123"})
    get(populated, "/packages.json", "pkb_wrong")
    lines = populated.requests()
    mine = [line for line in lines if line["request_id"] == "trace-me-123"]
    assert len(mine) == 1
    assert mine[0]["path"] == "/p2/acme/lib.json" and mine[0]["status"] == 200
    assert mine[0]["token_id"].startswith("tok_") and isinstance(mine[0]["duration_ms"], float)
    logs = populated.log_text()
    assert secret not in logs


def test_response_carries_the_request_id(server: BrokerServer) -> None:
    response = httpx.get(f"{server.url}/health", headers={"x-request-id": "abc-1"})
    assert response.headers["x-request-id"] == "abc-1"
    generated = httpx.get(f"{server.url}/health", headers={"x-request-id": "bad id with spaces"})
    assert generated.headers["x-request-id"] != "bad id with spaces"
