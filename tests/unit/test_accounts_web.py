"""The session cookie, CSRF and hostile sign-in bodies, through the core App in-process (no sockets)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from package_broker.accounts import totp
from package_broker.accounts.web import cookie_value
from package_broker.broker import Broker
from package_broker.web.app import App
from tests.conftest import Client, open_broker
from tests.secret_scan import remember

PASSWORD = "correct horse battery staple"


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    broker: Broker = await open_broker(tmp_path, PASSWORD_ITERATIONS="10000")
    remember(PASSWORD)
    await broker.users.create("alice", PASSWORD, "admin")
    yield Client(App(broker))
    await broker.close()


async def post(client: Client, path: str, body: object, **headers: str) -> tuple[int, dict[str, object]]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    response, data = await client.request(
        "POST", path, headers={"content-type": "application/json", **headers}, body=raw
    )
    return response.status, json.loads(data) if data else {}


@pytest.mark.parametrize(
    ("header", "value"),
    [
        (None, None),
        ("", None),
        ("pkb_session=", None),
        ("other=1; pkb_session=abc; x=y", "abc"),
        ('pkb_session="abc"', "abc"),
        ("pkb_session=old; pkb_session=new", "new"),
        ("xpkb_session=abc", None),
    ],
)
def test_the_cookie_is_found_in_a_cookie_header(header: str | None, value: str | None) -> None:
    assert cookie_value(header) == value


@pytest.mark.parametrize(
    "body",
    [
        b'{"name": "alice", "password": "\\ud800\\udfff broken surrogates"}',
        {"name": "alice", "password": "x" * 1024},
        {"name": "a" * 64, "password": PASSWORD},
        {"name": "alice", "password": PASSWORD[:-1] + "\u0660"},
    ],
)
async def test_hostile_sign_ins_are_refused_without_a_server_error(client: Client, body: object) -> None:
    status, data = await post(client, "/api/session", body)
    assert status == 401 and data["reason"] == "wrong-credentials"


@pytest.mark.parametrize(
    "body",
    [{"name": "alice"}, {"name": "alice", "password": PASSWORD, "extra": 1}, {"name": 5, "password": PASSWORD}, []],
)
async def test_malformed_sign_in_bodies_are_422(client: Client, body: object) -> None:
    status, _ = await post(client, "/api/session", body)
    assert status == 422


async def test_a_lone_surrogate_is_malformed_json_not_a_server_error(client: Client) -> None:
    # Python would decode it into a str no UTF-8 encoder takes; the parser refuses it as PHP does.
    for body in (
        b'{"name": "\\ud800", "password": "correct horse battery staple"}',
        b'{"name": "alice", "password": "correct horse battery staple", "code": "\\ud800\\ud800\\ud800"}',
    ):
        status, data = await post(client, "/api/session", body)
        assert status == 422 and "surrogate" in str(data["message"]), data


async def test_a_second_factor_in_other_scripts_digits_is_just_wrong(client: Client) -> None:
    broker = client.app.broker
    secret = await broker.users.begin_totp("alice")
    remember(secret)
    now = totp.code_at(secret, broker.clock.now() // 30)
    for code in await broker.users.confirm_totp("alice", now):
        remember(code)
    arabic = "".join(chr(0x0660 + int(d)) for d in totp.code_at(secret, broker.clock.now() // 30 + 1))
    for code in (arabic, "é" * 16, "x" * 64):
        status, data = await post(client, "/api/session", {"name": "alice", "password": PASSWORD, "code": code})
        assert (status, data.get("totp_required")) == (401, True), code


async def test_a_password_that_is_not_unicode_text_is_refused_at_creation(client: Client) -> None:
    response, data = await client.request(
        "POST",
        "/api/session",
        headers={"content-type": "application/json"},
        body=json.dumps({"name": "alice", "password": PASSWORD}).encode(),
    )
    assert response.status == 200
    cookie = str(response.header("set-cookie")).split(";")[0]
    csrf = str(json.loads(data)["csrf_token"])
    remember(cookie.split("=", 1)[1])
    remember(csrf)
    body = b'{"name": "eve", "password": "\\udc80 twelve or more characters", "role": "viewer"}'
    status, answer = await post(client, "/api/users", body, cookie=cookie, **{"x-csrf-token": csrf})
    assert status == 422 and "surrogate" in str(answer["message"])
    assert [u.name for u in await client.app.broker.users.all()] == ["alice"]


async def _signed_in(client: Client, code: str | None = None) -> tuple[int, dict[str, str], dict[str, object]]:
    """Sign in as alice: (status, the headers a write needs, the answer)."""
    body = {"name": "alice", "password": PASSWORD, **({"code": code} if code else {})}
    response, data = await client.request(
        "POST", "/api/session", headers={"content-type": "application/json"}, body=json.dumps(body).encode()
    )
    answer = json.loads(data)
    if response.status != 200:
        return response.status, {}, answer
    cookie = str(response.header("set-cookie")).split(";")[0]
    remember(cookie.split("=", 1)[1])
    remember(str(answer["csrf_token"]))
    return 200, {"cookie": cookie, "x-csrf-token": str(answer["csrf_token"])}, answer


async def _stored_totp(broker: Broker) -> tuple[str | None, str | None]:
    row = await broker.ports.db.fetch_one("SELECT totp_secret, totp_pending FROM users WHERE name = 'alice'")
    assert row is not None
    return row["totp_secret"], row["totp_pending"]


async def test_totp_secrets_are_stored_sealed_and_sign_ins_open_them(client: Client) -> None:
    broker = client.app.broker
    _, auth, _ = await _signed_in(client)
    status, started = await post(client, "/api/me/totp", None, **auth)
    secret = str(started["secret"])
    remember(secret)
    assert status == 200 and totp.is_secret(secret)
    _, pending = await _stored_totp(broker)
    assert pending is not None and pending.startswith("v1.") and secret not in pending
    status, confirmed = await post(
        client, "/api/me/totp/confirm", {"code": totp.code_at(secret, broker.clock.now() // 30)}, **auth
    )
    assert status == 200
    codes = confirmed["recovery_codes"]
    assert isinstance(codes, list)
    for code in codes:
        remember(code)
    stored, pending = await _stored_totp(broker)
    assert pending is None and stored is not None and stored.startswith("v1.") and secret not in stored

    status, _, answer = await _signed_in(client, totp.code_at(secret, broker.clock.now() // 30 + 1))
    user = answer["user"]
    assert status == 200 and isinstance(user, dict) and user["totp_enabled"] is True
    assert secret not in json.dumps(answer)


async def test_a_secret_stored_in_clear_before_sealing_still_signs_in(client: Client) -> None:
    broker = client.app.broker
    secret = totp.new_secret()
    remember(secret)
    await broker.ports.db.execute("UPDATE users SET totp_secret = ? WHERE name = 'alice'", (secret,))
    assert (await _signed_in(client, totp.code_at(secret, broker.clock.now() // 30)))[0] == 200


async def test_a_tampered_secret_refuses_the_sign_in_and_says_why_in_the_log_only(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    broker = client.app.broker
    secret = await broker.users.begin_totp("alice")
    remember(secret)
    codes = await broker.users.confirm_totp("alice", totp.code_at(secret, broker.clock.now() // 30))
    for code in codes:
        remember(code)
    stored, _ = await _stored_totp(broker)
    assert stored is not None
    tampered = stored[:-4] + ("AAAA" if not stored.endswith("AAAA") else "BBBB")
    await broker.ports.db.execute("UPDATE users SET totp_secret = ? WHERE name = 'alice'", (tampered,))

    with caplog.at_level("ERROR", logger="package_broker.accounts"):
        status, _, answer = await _signed_in(client, totp.code_at(secret, broker.clock.now() // 30 + 1))
    assert (status, answer["reason"], answer["totp_required"]) == (401, "totp-invalid", True)
    assert "failed authentication" not in json.dumps(answer)
    [record] = [r for r in caplog.records if "TOTP secret of alice" in r.getMessage()]
    assert "failed authentication" in record.getMessage()
    assert secret not in record.getMessage() and tampered not in record.getMessage()
    # A recovery code still lets alice in (and then set up a new app).
    assert (await _signed_in(client, codes[0]))[0] == 200
