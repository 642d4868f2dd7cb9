"""Dashboard users over real HTTP against `package-broker serve`: setup, sign-in, cookies, CSRF, roles,
two-factor, throttling, and the `user` commands."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from package_broker.accounts import totp
from tests.conftest import BrokerServer
from tests.secret_scan import remember

PASSWORD = "correct horse battery staple"
SETUP_SECRET = "setup-secret-0123456789abcdef"
#: Fewer iterations than production, so the suite's many sign-ins stay quick (PBKDF2 cost is not tested here).
FAST = {"PASSWORD_ITERATIONS": "10000"}


@dataclass
class Browser:
    """What a browser keeps for one origin: the session cookie (sent by hand: httpx, rightly, does not send
    a Secure cookie over plain http) and the CSRF token from the sign-in."""

    server: BrokerServer
    cookie: str | None = None
    csrf: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, path: str, body: Any = None, *, csrf: bool = True, **headers: str) -> httpx.Response:
        sent = dict(self.headers)
        if self.cookie:
            sent["cookie"] = f"pkb_session={self.cookie}"
        if csrf and self.csrf and method != "GET":
            sent["x-csrf-token"] = self.csrf
        sent.update(headers)
        response = httpx.request(
            method, f"{self.server.url}{path}", json=body if body is not None else None, headers=sent, timeout=30
        )
        if set_cookie := response.headers.get("set-cookie"):
            value = set_cookie.split(";")[0].split("=", 1)[1]
            self.cookie = value or None
            remember(value)
        if response.status_code in (200, 201) and "csrf_token" in response.text:
            self.csrf = response.json()["csrf_token"]
            remember(self.csrf)
        return response

    def sign_in(self, name: str, password: str = PASSWORD, code: str | None = None) -> httpx.Response:
        body = {"name": name, "password": password, **({"code": code} if code is not None else {})}
        return self.request("POST", "/api/session", body)


def create_user(server: BrokerServer, name: str, role: str = "admin", password: str = PASSWORD) -> dict[str, Any]:
    server.extra_env["NEW_USER_PASSWORD"] = password
    result = server.cli("user", "create", name, "--role", role, "--password-env", "NEW_USER_PASSWORD", "--json")
    return dict(json.loads(result.stdout))


@pytest.fixture
def accounts(server_factory: Any) -> BrokerServer:
    remember(PASSWORD)
    return server_factory("accounts", **FAST)  # type: ignore[no-any-return]


def test_a_sign_in_sets_a_strict_cookie_and_reads_back_the_user(accounts: BrokerServer) -> None:
    create_user(accounts, "alice")
    browser = Browser(accounts)
    response = browser.sign_in("alice")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user"]["name"] == "alice" and body["user"]["role"] == "admin"
    assert set(body["user"]) == {"name", "role", "totp_enabled", "created_at", "last_login_at"}
    assert isinstance(body["user"]["last_login_at"], int)
    cookie = response.headers["set-cookie"]
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "secure", "samesite", "path", "max-age"} <= attributes
    assert "SameSite=Strict" in cookie and "Path=/" in cookie and "Max-Age=43200" in cookie
    assert response.headers["cache-control"] == "no-store"

    me = browser.request("GET", "/api/session")
    assert me.status_code == 200 and me.json() == {"user": me.json()["user"], "csrf_token": browser.csrf}
    assert Browser(accounts).request("GET", "/api/session").json()["reason"] == "no-session"
    forged = Browser(accounts, cookie="A" * 43).request("GET", "/api/session")
    assert forged.status_code == 401 and "www-authenticate" not in forged.headers


def test_wrong_names_and_passwords_get_one_answer(accounts: BrokerServer) -> None:
    create_user(accounts, "alice")
    wrong_password = Browser(accounts).sign_in("alice", PASSWORD + "x")
    unknown = Browser(accounts).sign_in("mallory")
    assert wrong_password.status_code == unknown.status_code == 401
    assert wrong_password.json() == unknown.json()
    assert "set-cookie" not in wrong_password.headers
    assert "password" not in json.dumps(wrong_password.json()).replace("The name or the password", "")


def test_writes_need_the_csrf_token_and_our_origin(accounts: BrokerServer) -> None:
    create_user(accounts, "alice")
    browser = Browser(accounts)
    browser.sign_in("alice")
    new_user = {"name": "victor", "password": PASSWORD, "role": "viewer"}
    missing = browser.request("POST", "/api/users", new_user, csrf=False)
    assert missing.status_code == 403 and missing.json()["reason"] == "csrf"
    wrong = browser.request("POST", "/api/users", new_user, csrf=False, **{"x-csrf-token": "x" * 43})
    assert wrong.status_code == 403 and wrong.json()["reason"] == "csrf"
    elsewhere = browser.request("POST", "/api/users", new_user, origin="https://evil.example")
    assert elsewhere.status_code == 403 and elsewhere.json()["reason"] == "cross-origin"
    assert [u["name"] for u in browser.request("GET", "/api/users").json()] == ["alice"]
    created = browser.request("POST", "/api/users", new_user, origin=accounts.url)
    assert created.status_code == 201 and created.json()["role"] == "viewer"


def test_viewers_read_and_admins_manage_users(accounts: BrokerServer) -> None:
    create_user(accounts, "alice")
    admin = Browser(accounts)
    admin.sign_in("alice")
    assert admin.request("POST", "/api/users", {"name": "victor", "password": PASSWORD, "role": "viewer"}).is_success
    viewer = Browser(accounts)
    assert viewer.sign_in("victor").status_code == 200

    listed = viewer.request("GET", "/api/users")
    assert listed.status_code == 200
    assert [(u["name"], u["role"]) for u in listed.json()] == [("alice", "admin"), ("victor", "viewer")]
    assert "hash" not in listed.text and "pbkdf2" not in listed.text
    refused = viewer.request("POST", "/api/users", {"name": "eve", "password": PASSWORD, "role": "admin"})
    assert refused.status_code == 403
    assert viewer.request("PATCH", "/api/users/victor", {"role": "admin"}).status_code == 403
    assert viewer.request("DELETE", "/api/users/alice").status_code == 403

    # The last admin stays.
    assert admin.request("PATCH", "/api/users/alice", {"role": "viewer"}).status_code == 409
    assert admin.request("DELETE", "/api/users/alice").status_code == 409
    # A new password from an admin ends the user's sessions; removal too.
    changed = admin.request("PATCH", "/api/users/victor", {"password": PASSWORD + "2"})
    assert changed.status_code == 200 and changed.json()["name"] == "victor"
    assert viewer.request("GET", "/api/users").status_code == 401
    assert viewer.sign_in("victor", PASSWORD + "2").status_code == 200
    assert admin.request("PATCH", "/api/users/victor", {"role": "admin"}).json()["role"] == "admin"
    assert admin.request("DELETE", "/api/users/victor").status_code == 204
    assert viewer.request("GET", "/api/session").status_code == 401
    assert admin.request("DELETE", "/api/users/victor").status_code == 404
    bad = admin.request("POST", "/api/users", {"name": "Eve Smith", "password": "short", "role": "admin"})
    assert bad.status_code in (400, 422)


def test_logout_logout_everywhere_and_a_password_change(accounts: BrokerServer) -> None:
    create_user(accounts, "alice")
    laptop, phone, tablet = Browser(accounts), Browser(accounts), Browser(accounts)
    for browser in (laptop, phone, tablet):
        assert browser.sign_in("alice").status_code == 200
    out = laptop.request("DELETE", "/api/session")
    assert out.status_code == 204 and "Max-Age=0" in out.headers["set-cookie"]
    assert phone.request("GET", "/api/session").status_code == 200

    wrong = phone.request("POST", "/api/me/password", {"current": "not my password!", "new": PASSWORD + "3"})
    assert wrong.status_code == 403
    changed = phone.request("POST", "/api/me/password", {"current": PASSWORD, "new": PASSWORD + "3"})
    assert changed.status_code == 204
    assert phone.request("GET", "/api/session").status_code == 200  # this browser stays signed in
    assert tablet.request("GET", "/api/session").status_code == 401
    assert tablet.sign_in("alice").status_code == 401
    assert tablet.sign_in("alice", PASSWORD + "3").status_code == 200

    assert phone.request("POST", "/api/session/logout-all").status_code == 204
    assert phone.request("GET", "/api/session").status_code == 401
    assert tablet.request("GET", "/api/session").status_code == 401
    entries = json.loads(accounts.cli("audit", "--json").stdout)
    seen = {(e["actor"], e["action"]) for e in entries}
    assert {("user:alice", "user.login"), ("user:alice", "user.logout"), ("user:alice", "user.logout_all")} <= seen
    assert ("user:alice", "user.password_changed") in seen


def settled_step() -> int:
    """The current TOTP step, after waiting for the next one when this one ends within 10 s: the previous
    step's code, accepted for clock skew, must still be the previous step's when the server checks it."""
    left = 30 - time.time() % 30
    if left < 10:
        time.sleep(left + 0.1)
    return int(time.time()) // 30


def test_two_factor_with_codes_used_once_and_recovery_codes(accounts: BrokerServer) -> None:
    create_user(accounts, "alice")
    browser = Browser(accounts)
    browser.sign_in("alice")
    started = browser.request("POST", "/api/me/totp")
    assert started.status_code == 200
    secret = started.json()["secret"]
    remember(secret)
    assert started.json()["otpauth_uri"].startswith("otpauth://totp/PACKAGE.broker:alice?secret=" + secret)
    assert browser.request("POST", "/api/me/totp/confirm", {"code": "12345"}).status_code in (400, 422)
    now_step = settled_step()
    confirmed = browser.request("POST", "/api/me/totp/confirm", {"code": totp.code_at(secret, now_step - 1)})
    assert confirmed.status_code == 200, confirmed.text
    codes = confirmed.json()["recovery_codes"]
    for code in codes:
        remember(code)
    assert len(codes) == 10
    assert browser.request("POST", "/api/me/totp").status_code == 409  # on already

    second = Browser(accounts)
    asked = second.sign_in("alice")
    assert asked.status_code == 401 and asked.json()["totp_required"] is True and second.cookie is None
    assert second.sign_in("alice", code="000000" if totp.code_at(secret, now_step) != "000000" else "111111").json()[
        "totp_required"
    ]
    code = totp.code_at(secret, int(time.time()) // 30 + 1)
    assert second.sign_in("alice", code=code).status_code == 200
    assert second.request("GET", "/api/session").json()["user"]["totp_enabled"] is True
    replay = Browser(accounts).sign_in("alice", code=code)
    assert replay.status_code == 401 and replay.json()["totp_required"] is True
    assert Browser(accounts).sign_in("alice", code=codes[0]).status_code == 200
    assert Browser(accounts).sign_in("alice", code=codes[0]).status_code == 401
    assert Browser(accounts).sign_in("alice", PASSWORD + "x", code=codes[1]).status_code == 401
    assert Browser(accounts).sign_in("alice", code=codes[1].upper()).status_code == 200

    assert browser.request("DELETE", "/api/me/totp", {"password": "not my password!"}).status_code == 403
    assert browser.request("DELETE", "/api/me/totp", {"password": PASSWORD}).status_code == 204
    assert Browser(accounts).sign_in("alice").status_code == 200

    # A lost phone: another admin turns alice's two-factor off (the Worker has no `user reset-2fa`).
    again = browser.request("POST", "/api/me/totp").json()["secret"]
    remember(again)
    step = int(time.time()) // 30
    for code in browser.request("POST", "/api/me/totp/confirm", {"code": totp.code_at(again, step)}).json()[
        "recovery_codes"
    ]:
        remember(code)
    assert browser.request("POST", "/api/users", {"name": "bob", "password": PASSWORD, "role": "admin"}).is_success
    bob = Browser(accounts)
    bob.sign_in("bob")
    assert bob.request("PATCH", "/api/users/alice", {"totp_enabled": True}).status_code == 422
    reset = bob.request("PATCH", "/api/users/alice", {"totp_enabled": False})
    assert reset.status_code == 200 and reset.json()["totp_enabled"] is False
    assert browser.request("GET", "/api/session").status_code == 401  # her sessions ended
    assert Browser(accounts).sign_in("alice").status_code == 200


def test_failed_sign_ins_are_throttled_per_address_and_per_name(server_factory: Any) -> None:
    server: BrokerServer = server_factory(
        "throttled", AUTH_FAILURE_LIMIT="3", TRUSTED_PROXY_HEADER="x-forwarded-for", **FAST
    )
    remember(PASSWORD)
    create_user(server, "alice")
    create_user(server, "bob")
    attacker = Browser(server, headers={"x-forwarded-for": "198.51.100.7"})
    tries = [attacker.sign_in("bob", "guess number " + str(i)).status_code for i in range(4)]
    assert tries == [401, 401, 401, 429]
    blocked = attacker.sign_in("alice")  # the address waits, whatever it sends
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
    # bob's name was guessed 3 times: from any address, bob waits too; alice from elsewhere is fine.
    assert Browser(server, headers={"x-forwarded-for": "203.0.113.9"}).sign_in("bob").status_code == 429
    assert Browser(server, headers={"x-forwarded-for": "203.0.113.9"}).sign_in("alice").status_code == 200


def test_setup_secret_creates_the_first_admin_once(server_factory: Any) -> None:
    server: BrokerServer = server_factory("setup", SETUP_SECRET=SETUP_SECRET, **FAST)
    remember(PASSWORD)
    assert httpx.get(f"{server.url}/api/setup").json() == {"needed": True, "method": "secret"}
    visitor = Browser(server)
    wrong = visitor.request("POST", "/api/setup", {"secret": "guess" * 5, "name": "eve", "password": PASSWORD})
    assert wrong.status_code == 403
    admin = Browser(server)
    made = admin.request("POST", "/api/setup", {"secret": SETUP_SECRET, "name": "alice", "password": PASSWORD})
    assert made.status_code == 201, made.text
    assert made.json()["user"]["role"] == "admin" and admin.cookie
    assert admin.request("GET", "/api/session").json()["user"]["name"] == "alice"
    assert httpx.get(f"{server.url}/api/setup").json() == {"needed": False, "method": "secret"}
    again = Browser(server).request("POST", "/api/setup", {"secret": SETUP_SECRET, "name": "eve", "password": PASSWORD})
    assert again.status_code == 403 and again.json()["message"] == wrong.json()["message"]
    assert [u["name"] for u in json.loads(server.cli("user", "list", "--json").stdout)] == ["alice"]


def test_without_a_setup_secret_setup_is_the_cli_s(accounts: BrokerServer) -> None:
    assert httpx.get(f"{accounts.url}/api/setup").json() == {"needed": True, "method": "cli"}
    refused = Browser(accounts).request("POST", "/api/setup", {"secret": "", "name": "eve", "password": PASSWORD})
    assert refused.status_code == 403
    assert httpx.get(f"{accounts.url}/api/setup").json()["needed"] is True
    assert (
        "create its first admin with:\n  package-broker user create NAME --role admin"
        in (accounts.root / "stderr.log").read_text()
    )


def test_user_commands(accounts: BrokerServer) -> None:
    made = create_user(accounts, "alice")
    assert made["role"] == "admin" and made["created_at"].endswith("+00:00")
    create_user(accounts, "victor", "viewer")
    browser = Browser(accounts)
    browser.sign_in("victor")
    listed = json.loads(accounts.cli("user", "list", "--json").stdout)
    assert [(u["name"], u["role"], u["totp_enabled"]) for u in listed] == [
        ("alice", "admin", False),
        ("victor", "viewer", False),
    ]
    assert "pbkdf2" not in accounts.cli("user", "list").stdout
    assert accounts.cli("user", "set-role", "victor", "admin").stdout.strip() == "victor is now admin."
    assert "Ended 1 session of victor" in accounts.cli("user", "logout", "victor").stdout
    assert browser.request("GET", "/api/session").status_code == 401
    accounts.extra_env["NEW_USER_PASSWORD"] = PASSWORD + "4"
    accounts.cli("user", "reset-password", "victor", "--password-env", "NEW_USER_PASSWORD")
    assert browser.sign_in("victor", PASSWORD + "4").status_code == 200
    accounts.cli("user", "reset-2fa", "victor")
    accounts.cli("user", "set-role", "alice", "viewer")
    last = accounts.cli("user", "remove", "victor", check=False)
    assert last.returncode == 1 and "last admin" in last.stderr and last.stderr.count("\n") == 1
    bad = accounts.cli("user", "create", "Not Valid", check=False)
    assert bad.returncode == 1 and "invalid user name" in bad.stderr
    accounts.extra_env["NEW_USER_PASSWORD"] = "short"
    weak = accounts.cli("user", "create", "eve", "--password-env", "NEW_USER_PASSWORD", check=False)
    assert weak.returncode == 1 and "at least 12 characters" in weak.stderr
    prompted = accounts.cli("user", "create", "carol", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert "Created viewer carol" in prompted.stdout
    mismatch = accounts.cli("user", "create", "dave", input=f"{PASSWORD}\n{PASSWORD}x\n", check=False)
    assert mismatch.returncode != 0
