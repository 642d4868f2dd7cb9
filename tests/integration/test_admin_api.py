"""The admin REST API over real HTTP against `package-broker serve`: signed-in users (real sessions from
POST /api/session), a real git repository as a source, real zips uploaded, Composer's own endpoints checked
with the tokens the API creates."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from package_broker.errors import BackendError
from package_broker.web.app import App
from tests.conftest import BrokerServer, Client, basic, open_broker
from tests.fixtures.providers.github import GitHubFixture
from tests.helpers import Repo, make_zip, php_package

PASSWORD = "correct horse battery staple"
ROUTE_PARAMS = {
    "source_id": "src_0000000000",
    "token_id": "tok_0000000000",
    "vendor": "acme",
    "name": "nothing",
    "version": "1.0.0",
    "advisory_id": "PKBSA-0000-0000-0000",
}


class Api:
    """A signed-in (or anonymous) client: the session cookie and CSRF token are sent by hand, as a browser
    would (httpx's cookie jar keeps `Secure` cookies to itself over http://127.0.0.1)."""

    def __init__(self, server: BrokerServer, name: str | None = None, password: str = PASSWORD) -> None:
        self.server = server
        self.client = httpx.Client(base_url=server.url, timeout=60)
        self.cookie: str | None = None
        self.csrf: str | None = None
        if name is not None:
            response = self.client.post("/api/session", json={"name": name, "password": password})
            assert response.status_code == 200, response.text
            match = re.match(r"pkb_session=([^;]+)", response.headers["set-cookie"])
            assert match, response.headers["set-cookie"]
            self.cookie, self.csrf = match[1], response.json()["csrf_token"]

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *_: object) -> None:
        self.client.close()

    def call(self, method: str, path: str, *, csrf: bool = True, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if self.cookie:
            headers["cookie"] = f"pkb_session={self.cookie}"
        if self.csrf and csrf and method not in ("GET", "HEAD"):
            headers["x-csrf-token"] = self.csrf
        return self.client.request(method, path, headers=headers, **kwargs)

    def ok(self, method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
        response = self.call(method, path, **kwargs)
        assert response.status_code == status, f"{method} {path}: {response.status_code} {response.text}"
        return response.json() if response.content else None


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerServer]:
    running = BrokerServer(
        tmp_path_factory.mktemp("admin-api") / "server", extra_env={"PASSWORD_ITERATIONS": "10000"}
    ).start()
    try:
        for name, role in (("alice", "admin"), ("victor", "viewer")):
            running.extra_env["ADMIN_TEST_PASSWORD"] = PASSWORD
            running.cli("user", "create", name, "--role", role, "--password-env", "ADMIN_TEST_PASSWORD")
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def admin(server: BrokerServer) -> Iterator[Api]:
    api = Api(server, "alice")
    yield api
    api.client.close()


@pytest.fixture(scope="module")
def viewer(server: BrokerServer) -> Iterator[Api]:
    api = Api(server, "victor")
    yield api
    api.client.close()


def routes() -> list[tuple[str, str, str]]:
    from package_broker.web.admin.dispatch import all_routes

    return [(r.method, r.path.format(**ROUTE_PARAMS), r.role) for r in all_routes()]


def assert_error_shape(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert isinstance(body["error"], str) and isinstance(body["message"], str) and body["message"]
    return dict(body)


def test_every_route_refuses_a_caller_without_a_session(server: BrokerServer) -> None:
    checked = 0
    with Api(server) as anonymous:
        for method, path, role in routes():
            if role == "public":
                continue
            response = anonymous.call(method, path, json={})
            assert_error_shape(response, 401)
            # No Basic challenge: a browser must not pop up a password dialog for the dashboard's calls.
            assert "www-authenticate" not in response.headers, path
            checked += 1
    assert checked >= 20


def test_viewers_read_but_every_write_is_403(viewer: Api) -> None:
    writes = [(m, p) for m, p, role in routes() if role == "admin"]
    assert len(writes) >= 15
    for method, path in writes:
        body = assert_error_shape(viewer.call(method, path, json={}), 403)
        assert "admin" in body["message"]
    for path in ("/api/sources", "/api/tokens", "/api/packages", "/api/audit", "/api/stats", "/api/users"):
        viewer.ok("GET", path)


def test_writes_need_the_csrf_token(admin: Api) -> None:
    response = admin.call("POST", "/api/tokens", csrf=False, json={"description": "no csrf"})
    assert_error_shape(response, 403)
    assert not any(t["description"] == "no csrf" for t in admin.ok("GET", "/api/tokens")["items"])


def test_tokens_secret_shown_once_and_the_token_works_for_composer(admin: Api, server: BrokerServer) -> None:
    made = admin.ok(
        "POST",
        "/api/tokens",
        201,
        json={"description": "CI for acme", "permission": "readonly", "rate_limit": 500},
    )
    secret, token = made["secret"], made["token"]
    assert secret.startswith("pkb_") and secret.startswith(token["token_prefix"])
    assert token["state"] == "active" and token["rate_limit"] == 500 and token["effective_rate_limit"] == 500
    assert httpx.get(f"{server.url}/packages.json", headers=basic(secret)).status_code == 200

    listed = admin.call("GET", "/api/tokens")
    assert secret not in listed.text and "token_hash" not in listed.text
    shown = admin.ok("GET", f"/api/tokens/{token['id']}")
    assert shown["last_used_at"] is not None  # the Composer request above was recorded

    edited = admin.ok("PATCH", f"/api/tokens/{token['id']}", json={"rate_limit": None, "description": "CI, renamed"})
    assert edited["token"]["rate_limit"] is None and edited["token"]["description"] == "CI, renamed"
    assert edited["token"]["effective_rate_limit"] == 1000  # the broker's default RATE_LIMIT

    revoked = admin.ok("DELETE", f"/api/tokens/{token['id']}")
    assert revoked["state"] == "revoked" and revoked["revoked_at"] is not None
    response = httpx.get(f"{server.url}/packages.json", headers=basic(secret))
    assert response.status_code == 401

    entries = admin.ok("GET", "/api/audit", params={"actor": "user:alice", "action": "token."})["items"]
    actions = {(e["action"], e["target"]) for e in entries}
    assert {("token.created", token["id"]), ("token.edited", token["id"]), ("token.revoked", token["id"])} <= actions
    assert secret not in json.dumps(entries)


def test_token_validation_names_each_field(admin: Api) -> None:
    response = admin.call(
        "POST",
        "/api/tokens",
        json={"description": "x" * 201, "permission": "root", "rate_limit": -1, "extra": True},
    )
    body = assert_error_shape(response, 422)
    fields = {p["field"] for p in body["errors"]}
    assert fields == {"body.description", "body.permission", "body.rate_limit", "body.extra"}
    assert_error_shape(admin.call("POST", "/api/tokens", json={}), 422)
    assert_error_shape(admin.call("POST", "/api/tokens", json=["a list"]), 422)
    assert_error_shape(
        admin.call("POST", "/api/tokens", content=b"{not json", headers={"content-type": "application/json"}), 422
    )
    assert_error_shape(admin.call("POST", "/api/tokens", content=b"[" * 100_000), 413)
    # A value the core refuses (a bare vendor prefix) is a 400 that says what to write instead.
    body = assert_error_shape(
        admin.call("POST", "/api/tokens", json={"description": "d", "allowed_package_prefixes": ["acme"]}), 400
    )
    assert "acme/" in body["message"]
    assert_error_shape(admin.call("GET", "/api/tokens", params={"limit": "many"}), 422)
    assert_error_shape(admin.call("GET", "/api/tokens", params={"limit": "0"}), 422)
    assert_error_shape(admin.call("GET", "/api/tokens/tok_doesnotexist"), 404)
    assert_error_shape(admin.call("PUT", "/api/tokens"), 405)
    assert_error_shape(admin.call("GET", "/api/nothing-here"), 404)


def test_a_git_source_added_synced_inspected_and_removed(admin: Api, tmp_path: Path, server: BrokerServer) -> None:
    repo = Repo(tmp_path / "lib")
    repo.commit({"composer.json": php_package("acme/git-lib", "Acme\\GitLib"), "README.md": "# Git lib"})
    repo.tag("v1.0.0")
    repo.commit({"composer.json": {"name": "acme/git-lib", "version": "not a version!"}})
    repo.tag("v1.1.0")

    created = admin.ok("POST", "/api/sources", 201, json={"kind": "git", "url": str(repo.path), "sync": True})
    source = created["source"]
    assert created["sync"]["status"] == "ok", created
    assert created["webhook"] is None and source["kind"] == "git" and source["packages"] == 1

    listed = admin.ok("GET", "/api/sources")["items"]
    assert source["id"] in [s["id"] for s in listed]

    detail = admin.ok("GET", f"/api/sources/{source['id']}")
    assert detail["served"] == [{"name": "acme/git-lib", "versions": detail["served"][0]["versions"]}]
    assert detail["refs_read"] >= 2 and detail["refs_skipped"] >= 1
    skipped = [r for r in detail["refs"] if r["status"] != "ok"]
    assert skipped[0]["ref"].endswith("v1.1.0") and skipped[0]["reason"]
    assert detail["history"] and detail["history"][0]["actor"] == "user:alice"

    assert admin.ok("POST", f"/api/sources/{source['id']}/disable")["enabled"] is False
    assert admin.ok("GET", "/api/sources", params={"status": "disabled"})["items"][0]["id"] == source["id"]
    edited = admin.ok("PATCH", f"/api/sources/{source['id']}", json={"enabled": True, "sync_interval": 600})
    assert edited["enabled"] is True and edited["sync_interval"] == 600
    report = admin.ok("POST", f"/api/sources/{source['id']}/sync")["reports"][0]
    assert report["status"] == "ok"
    # Every sync's outcome is kept on the source, newest first (the first one ran when it was added).
    runs = admin.ok("GET", f"/api/sources/{source['id']}")["runs"]
    assert [r["status"] for r in runs] == ["ok", "ok"]
    assert runs[0]["finished_at"] >= runs[1]["finished_at"] >= runs[1]["started_at"]
    assert runs[0]["message"] == report["message"]
    assert_error_shape(admin.call("PATCH", f"/api/sources/{source['id']}", json={"sync_interval": 5}), 422)
    assert_error_shape(admin.call("POST", f"/api/sources/{source['id']}/webhook"), 400)
    again = admin.call("POST", "/api/sources", json={"kind": "git", "url": str(repo.path)})
    assert_error_shape(again, 409)

    removed = admin.ok("DELETE", f"/api/sources/{source['id']}")
    assert removed["no_longer_served"] == ["acme/git-lib"]
    assert_error_shape(admin.call("GET", f"/api/sources/{source['id']}"), 404)


def test_source_credentials_are_write_only(admin: Api) -> None:
    secret = "s3cr3t-upstream-password-for-the-test"
    response = admin.call(
        "POST",
        "/api/sources",
        json={"kind": "composer", "url": "https://repo.example.test/", "username": "me", "password": secret},
    )
    assert response.status_code == 201, response.text
    assert secret not in response.text
    source = response.json()["source"]
    assert source["has_credentials"] is True and "me" not in source["url"]
    for path in ("/api/sources", f"/api/sources/{source['id']}", "/api/audit"):
        assert secret not in admin.call("GET", path).text
    inline = admin.call("POST", "/api/sources", json={"kind": "git", "url": f"https://u:{secret}@git.example.test/r"})
    assert inline.status_code == 201 and secret not in inline.text
    assert inline.json()["source"]["url"] == "https://git.example.test/r"
    forgot = admin.ok("PATCH", f"/api/sources/{source['id']}", json={"forget_credentials": True})
    assert forgot["has_credentials"] is False
    admin.ok("DELETE", f"/api/sources/{source['id']}")
    admin.ok("DELETE", f"/api/sources/{inline.json()['source']['id']}")


def test_packages_upload_search_readme_and_delete(admin: Api, viewer: Api) -> None:
    readme = "# Uploaded\n\n<script>alert(1)</script> stays text.\n"
    for version in ("1.0.0", "1.1.0-beta1"):
        archive = make_zip({"composer.json": php_package("acme/uploaded", "Acme\\Up"), "README.md": readme + version})
        published = admin.ok(
            "POST",
            "/api/packages",
            201,
            params={"version": version},
            content=archive,
            headers={"content-type": "application/zip"},
        )
        assert published["name"] == "acme/uploaded" and published["dist_url"].endswith(".zip")
    assert_error_shape(
        admin.call("POST", "/api/packages", content=b"not a zip", headers={"content-type": "application/zip"}), 422
    )
    assert_error_shape(admin.call("POST", "/api/packages", json={"a": 1}), 415)

    page = viewer.ok("GET", "/api/packages", params={"q": "UPLOAD"})
    assert [p["name"] for p in page["items"]] == ["acme/uploaded"]
    assert page["items"][0]["versions"] == 2
    assert viewer.ok("GET", "/api/packages", params={"q": "no-such-thing"})["items"] == []

    shown = viewer.ok("GET", "/api/packages/acme/uploaded")
    assert {v["version"] for v in shown["versions"]} == {"1.0.0", "1.1.0-beta1"}
    # The README of the newest *stable* version, as text.
    assert shown["readme"]["text"] == readme + "1.0.0" and shown["readme"]["filename"] == "README.md"

    changed = admin.ok("DELETE", "/api/packages/acme/uploaded/versions/1.1.0-beta1")
    assert "deleted" in changed["message"]
    assert [v["version"] for v in viewer.ok("GET", "/api/packages/acme/uploaded")["versions"]] == ["1.0.0"]
    assert_error_shape(admin.call("DELETE", "/api/packages/acme/uploaded/versions/9.9.9"), 404)
    assert_error_shape(viewer.call("GET", "/api/packages/acme/absent"), 404)
    assert_error_shape(viewer.call("GET", "/api/packages/NOT%20A/name"), 404)


def test_pagination_walks_every_item_once(admin: Api) -> None:
    made = [admin.ok("POST", "/api/tokens", 201, json={"description": f"page {i}"})["token"]["id"] for i in range(5)]
    seen: list[str] = []
    cursor = None
    for _ in range(20):
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = admin.ok("GET", "/api/tokens", params=params)
        assert len(page["items"]) <= 2
        seen += [t["id"] for t in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert set(made) <= set(seen) and len(seen) == len(set(seen))

    entries: list[str] = []
    cursor = None
    for _ in range(50):
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = admin.ok("GET", "/api/audit", params=params)
        entries += [e["id"] for e in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert len(entries) == len(set(entries)) and len(entries) >= 5


def test_stats_count_what_is_served(admin: Api) -> None:
    stats = admin.ok("GET", "/api/stats")
    assert stats["tokens_active"] >= 1
    assert set(stats) == {
        "packages",
        "versions",
        "sources",
        "tokens_active",
        "downloads_total",
        "downloads_30_days",
        "storage_bytes",
    }
    assert all(isinstance(v, int) for k, v in stats.items() if k != "sources")


def test_advisories_recorded_listed_served_to_composer_and_removed(
    admin: Api, viewer: Api, server: BrokerServer
) -> None:
    made = admin.ok(
        "POST",
        "/api/advisories",
        201,
        json={"package": "Acme/Vulnerable", "affected": ">=1.0,<1.2.3", "title": "Leaks tokens", "severity": "high"},
    )
    assert made["id"].startswith("PKBSA-") and made["package"] == "acme/vulnerable" and made["origin"] == "operator"
    assert made["affected"] == ">=1.0,<1.2.3" and made["severity"] == "high" and made["cve"] is None
    other = admin.ok("POST", "/api/advisories", 201, json={"package": "acme/other", "affected": "<2", "title": "x"})

    listed = viewer.ok("GET", "/api/advisories")["items"]
    assert {made["id"], other["id"]} <= {a["id"] for a in listed}
    only = viewer.ok("GET", "/api/advisories", params={"package": "acme/vulnerable", "all": "true"})["items"]
    assert [a["id"] for a in only] == [made["id"]]

    # What `composer audit` asks, with a Composer token.
    secret = admin.ok("POST", "/api/tokens", 201, json={"description": "audit"})["secret"]
    answer = httpx.get(
        f"{server.url}/api/security-advisories/",
        params={"packages[]": "acme/vulnerable"},
        headers=basic(secret),
    )
    assert answer.status_code == 200, answer.text
    served = answer.json()["advisories"]["acme/vulnerable"]
    assert [(a["advisoryId"], a["affectedVersions"], a["title"]) for a in served] == [
        (made["id"], ">=1.0,<1.2.3", "Leaks tokens")
    ]

    assert admin.call("DELETE", f"/api/advisories/{made['id']}").status_code == 204
    assert_error_shape(admin.call("DELETE", f"/api/advisories/{made['id']}"), 404)
    assert made["id"] not in {a["id"] for a in viewer.ok("GET", "/api/advisories")["items"]}
    again = httpx.get(
        f"{server.url}/api/security-advisories/", params={"packages[]": "acme/vulnerable"}, headers=basic(secret)
    )
    assert again.json()["advisories"].get("acme/vulnerable", []) == []

    entries = admin.ok("GET", "/api/audit", params={"actor": "user:alice", "action": "advisory."})["items"]
    actions = {(e["action"], e["target"]) for e in entries}
    assert {("advisory.added", made["id"]), ("advisory.removed", made["id"])} <= actions


def test_advisory_writes_are_validated_like_the_cli(admin: Api, viewer: Api) -> None:
    good = {"package": "acme/lib", "affected": "<1.0", "title": "t"}
    assert_error_shape(viewer.call("POST", "/api/advisories", json=good), 403)
    assert_error_shape(viewer.call("DELETE", "/api/advisories/PKBSA-0000-0000-0000"), 403)
    for field, change in (
        ("body.affected", {"affected": "not a constraint!"}),
        ("body.package", {"package": "not a name"}),
        ("body.severity", {"severity": "dire"}),
        ("body.title", {"title": None}),
    ):
        body = assert_error_shape(admin.call("POST", "/api/advisories", json={**good, **change}), 422)
        assert [p["field"] for p in body["errors"]] == [field], body
    assert not any(a["package"] == "acme/lib" for a in admin.ok("GET", "/api/advisories")["items"])


def test_openapi_document_and_reference_page(server: BrokerServer) -> None:
    document = httpx.get(f"{server.url}/api/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    operations = {(m.upper(), p) for p, ops in document["paths"].items() for m in ops}
    from package_broker.web.admin.dispatch import all_routes

    assert operations == {(r.method, r.path) for r in all_routes()}
    assert set(document["components"]["securitySchemes"]) == {"session", "csrf"}

    page = httpx.get(f"{server.url}/api/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy
    assert "<script" not in page.text and "http://" not in page.text.replace(server.url, "")
    assert "/api/tokens/{token_id}" in page.text and 'id="model-TokenCreate"' in page.text


GITHUB_TOKEN = "ghp_adminApiFixtureToken0123456789abc"


def _github_push(server: BrokerServer, path: str, secret: str, delivery: str) -> httpx.Response:
    body = json.dumps({"ref": "refs/tags/v1.0.0", "delivery": delivery}).encode()  # replays are refused
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return httpx.post(
        f"{server.url}{path}",
        content=body,
        headers={
            "content-type": "application/json",
            "x-github-event": "push",
            "x-github-delivery": delivery,
            "x-hub-signature-256": signature,
        },
    )


def test_a_provider_source_gets_its_webhook_secret_once(tmp_path: Path) -> None:
    github = GitHubFixture(token=GITHUB_TOKEN).start()
    # PRIVATE_UPSTREAMS=allow: the fixture plays api.github.com on 127.0.0.1.
    running = BrokerServer(
        tmp_path / "server",
        extra_env={"PASSWORD_ITERATIONS": "10000", "PRIVATE_UPSTREAMS": "allow", "ADMIN_TEST_PASSWORD": PASSWORD},
    ).start()
    try:
        repo = Repo(tmp_path / "lib")
        repo.commit({"composer.json": php_package("acme/hub-lib", "Acme\\Hub")})
        repo.tag("v1.0.0")
        github.add_repo("acme/hub-lib", repo.path)
        running.cli("user", "create", "alice", "--role", "admin", "--password-env", "ADMIN_TEST_PASSWORD")
        with Api(running, "alice") as admin:
            body = {"kind": "github", "repository": "acme/hub-lib", "api_url": github.url, "token": GITHUB_TOKEN}
            response = admin.call("POST", "/api/sources", json={**body, "sync": True})
            assert response.status_code == 201, response.text
            assert GITHUB_TOKEN not in response.text
            created = response.json()
            assert created["sync"]["status"] == "ok", created["sync"]
            webhook, source = created["webhook"], created["source"]
            assert webhook["url"] == f"{running.url}/webhooks/github/{source['id']}"
            assert source["webhook_path"] == f"/webhooks/github/{source['id']}" and source["has_credentials"]
            for path in ("/api/sources", f"/api/sources/{source['id']}", "/api/audit"):
                text = admin.call("GET", path).text
                assert webhook["secret"] not in text and GITHUB_TOKEN not in text

            path = source["webhook_path"]
            assert _github_push(running, path, webhook["secret"], "d-1").status_code == 202
            renewed = admin.ok("POST", f"/api/sources/{source['id']}/webhook")
            assert renewed["secret"] != webhook["secret"] and renewed["url"] == webhook["url"]
            assert _github_push(running, path, webhook["secret"], "d-2").status_code == 401
            assert _github_push(running, path, renewed["secret"], "d-3").status_code == 202
            # A repository path is what a provider source takes; a URL is refused with a sentence.
            wrong = admin.call("POST", "/api/sources", json={"kind": "github", "url": "https://github.com/a/b"})
            assert_error_shape(wrong, 400)
    finally:
        running.stop()
        github.stop()


SQL_ERROR = "database read failed: no such column: downloads.secret_total (database is locked)"


async def test_a_failing_backend_or_a_bug_never_shows_internal_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    broker = await open_broker(tmp_path, PASSWORD_ITERATIONS="10000")
    try:
        await broker.users.create("alice", PASSWORD, "admin")
        client = Client(App(broker))
        response, body = await client.request(
            "POST", "/api/session", body=json.dumps({"name": "alice", "password": PASSWORD}).encode()
        )
        assert response.status == 200, body
        cookie = (response.header("set-cookie") or "").split(";")[0]

        async def broken(*_: object, **__: object) -> list[list[dict[str, object]]]:
            raise BackendError(SQL_ERROR)

        monkeypatch.setattr(broker.ports.db, "fetch_many", broken)
        with caplog.at_level(logging.WARNING, logger="package_broker.request"):
            response, body = await client.request(
                "GET", "/api/stats", headers={"cookie": cookie, "x-request-id": "req-admin-503"}
            )
        assert response.status == 503
        for internal in ("column", "secret_total", "locked", "database", "downloads"):
            assert internal not in body.decode()
        assert json.loads(body)["request_id"] == "req-admin-503"
        assert any(SQL_ERROR in r.getMessage() for r in caplog.records)

        async def bug(*_: object, **__: object) -> object:
            raise KeyError("internal_column_name")

        monkeypatch.setattr(broker.tokens, "all", bug)
        response, body = await client.request("GET", "/api/tokens", headers={"cookie": cookie})
        assert response.status == 500
        assert "internal_column_name" not in body.decode() and "KeyError" not in body.decode()
        assert set(json.loads(body)) >= {"error", "message"}
    finally:
        await broker.close()
