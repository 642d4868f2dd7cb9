"""Users, sessions and two-factor state on a real (SQLite) database: the rules the database must enforce."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from package_broker.accounts import passwords, totp
from package_broker.broker import Broker
from package_broker.errors import Conflict, InvalidInput, NotFound
from tests.conftest import open_broker
from tests.secret_scan import remember

PASSWORD = "correct horse battery staple"


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[Broker]:
    opened = await open_broker(tmp_path, PASSWORD_ITERATIONS="10000")
    remember(PASSWORD)
    yield opened
    await opened.close()


async def _stored(broker: Broker, sql: str, *params: object) -> list[dict[str, object]]:
    return await broker.ports.db.fetch_all(sql, params)  # type: ignore[arg-type]


async def test_a_user_is_stored_with_a_salted_hash_and_shown_without_it(broker: Broker) -> None:
    user = await broker.users.create("alice", PASSWORD, "admin")
    assert user.to_json() == {
        "name": "alice",
        "role": "admin",
        "totp_enabled": False,
        "created_at": user.created_at,
        "last_login_at": None,
    }
    [row] = await _stored(broker, "SELECT password_hash FROM users WHERE name = 'alice'")
    stored = str(row["password_hash"])
    assert stored.startswith("pbkdf2_sha256$10000$") and PASSWORD not in stored
    assert (await broker.users.verify(await broker.users.account("alice"), PASSWORD)).ok


@pytest.mark.parametrize("name", ["", "Alice", "a b", "-x", "x" * 65, "a/b", "ä"])
async def test_bad_names_are_refused(broker: Broker, name: str) -> None:
    with pytest.raises(InvalidInput):
        await broker.users.create(name, PASSWORD, "viewer")
    assert await broker.users.all() == []


async def test_names_are_unique_and_roles_and_passwords_checked(broker: Broker) -> None:
    await broker.users.create("alice", PASSWORD, "admin")
    with pytest.raises(Conflict):
        await broker.users.create("alice", PASSWORD, "viewer")
    with pytest.raises(InvalidInput):
        await broker.users.create("bob", PASSWORD, "owner")
    with pytest.raises(InvalidInput):
        await broker.users.create("bob", "short", "viewer")
    assert [u.name for u in await broker.users.all()] == ["alice"]


async def test_the_first_admin_is_created_only_while_nobody_exists_even_when_racing(broker: Broker) -> None:
    results = await asyncio.gather(
        *(broker.users.create(f"admin{i}", PASSWORD, "admin", first=True) for i in range(5)), return_exceptions=True
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert all(isinstance(r, Conflict) for r in results if isinstance(r, BaseException))
    assert len(await broker.users.all()) == 1


async def test_the_last_admin_can_be_neither_removed_nor_demoted(broker: Broker) -> None:
    await broker.users.create("alice", PASSWORD, "admin")
    await broker.users.create("victor", PASSWORD, "viewer")
    with pytest.raises(Conflict):
        await broker.users.remove("alice")
    with pytest.raises(Conflict):
        await broker.users.set_role("alice", "viewer")
    await broker.users.set_role("victor", "admin")
    await broker.users.set_role("alice", "viewer")  # victor is an admin now
    with pytest.raises(Conflict):
        await broker.users.remove("victor")
    await broker.users.remove("alice")
    with pytest.raises(NotFound):
        await broker.users.get("alice")
    assert [(u.name, u.role) for u in await broker.users.all()] == [("victor", "admin")]


async def test_two_admins_demoting_each_other_at_once_leave_one_admin(broker: Broker) -> None:
    await broker.users.create("alice", PASSWORD, "admin")
    await broker.users.create("bob", PASSWORD, "admin")
    results = await asyncio.gather(
        broker.users.set_role("alice", "viewer"), broker.users.set_role("bob", "viewer"), return_exceptions=True
    )
    assert sum(isinstance(r, Conflict) for r in results) == 1
    assert [u.name for u in await broker.users.all() if u.role == "admin"] in (["alice"], ["bob"])


async def test_sessions_are_stored_as_hashes_and_end_by_age_idleness_logout_and_removal(broker: Broker) -> None:
    await broker.users.create("alice", PASSWORD, "admin")
    await broker.users.create("bob", PASSWORD, "admin")
    first, session = await broker.sessions.start("alice", "192.0.2.1")
    remember(first)
    assert len(first) == 43
    rows = await _stored(broker, "SELECT id_hash, csrf_token FROM user_sessions")
    assert rows == [{"id_hash": session.id_hash, "csrf_token": session.csrf_token}] and first not in str(rows)
    found = await broker.sessions.find(first)
    assert found is not None and found[1].user.name == "alice"
    assert await broker.sessions.find(first[:-1] + ("A" if first[-1] != "A" else "B")) is None
    assert await broker.sessions.find("not a session") is None

    # Idle for longer than SESSION_IDLE_MINUTES (120): gone.
    await broker.ports.db.execute("UPDATE user_sessions SET last_seen_at = last_seen_at - 7201")
    assert await broker.sessions.find(first) is None
    # Past its absolute expiry, however recently seen: gone.
    second, _ = await broker.sessions.start("alice", None)
    await broker.ports.db.execute("UPDATE user_sessions SET expires_at = ? WHERE id_hash <> ?", (0, session.id_hash))
    assert await broker.sessions.find(second) is None

    third, s3 = await broker.sessions.start("alice", None)
    fourth, _ = await broker.sessions.start("alice", None)
    other, _ = await broker.sessions.start("bob", None)
    await broker.sessions.end(s3.id_hash, "alice")
    assert await broker.sessions.find(third) is None and await broker.sessions.find(fourth) is not None
    await broker.sessions.end_all("alice")
    assert await broker.sessions.find(fourth) is None and await broker.sessions.find(other) is not None
    await broker.users.remove("bob")
    assert await broker.sessions.find(other) is None


async def test_a_new_password_ends_every_other_session(broker: Broker) -> None:
    await broker.users.create("alice", PASSWORD, "admin")
    keep, kept = await broker.sessions.start("alice", None)
    lose, _ = await broker.sessions.start("alice", None)
    await broker.users.set_password("alice", PASSWORD + "!", keep_session=kept.id_hash)
    assert await broker.sessions.find(keep) is not None and await broker.sessions.find(lose) is None
    account = await broker.users.account("alice")
    assert not (await broker.users.verify(account, PASSWORD)).ok
    assert (await broker.users.verify(account, PASSWORD + "!")).ok


async def test_a_login_rehashes_a_password_hashed_with_other_iterations(broker: Broker) -> None:
    await broker.users.create("alice", PASSWORD, "admin")
    old = await passwords.hash_password(broker.users.kdf, PASSWORD, 12_000)
    await broker.ports.db.execute("UPDATE users SET password_hash = ? WHERE name = 'alice'", (old,))
    account = await broker.users.account("alice")
    verified = await broker.users.verify(account, PASSWORD)
    assert verified == passwords.Verified(True, outdated=True)
    assert account is not None
    user, record = await broker.users.logged_in(account, PASSWORD, verified.outdated)
    await broker.ports.db.batch([record])
    assert user.last_login_at is not None and (await broker.users.get("alice")).last_login_at == user.last_login_at
    [row] = await _stored(broker, "SELECT password_hash FROM users")
    assert str(row["password_hash"]).startswith("pbkdf2_sha256$10000$")


async def _enable_totp(broker: Broker, name: str) -> tuple[str, list[str]]:
    secret = await broker.users.begin_totp(name)
    remember(secret)
    assert not (await broker.users.get(name)).totp_enabled  # pending until confirmed
    with pytest.raises(InvalidInput):
        wrong = "000000" if totp.code_at(secret, 0) != "000000" else "111111"
        await broker.users.confirm_totp(name, wrong)
    step = broker.clock.now() // totp.PERIOD - 1  # last step's code: within the accepted drift
    codes = await broker.users.confirm_totp(name, totp.code_at(secret, step))
    for code in codes:
        remember(code)
    assert (await broker.users.get(name)).totp_enabled
    return secret, codes


async def test_totp_codes_are_accepted_once(broker: Broker) -> None:
    await broker.users.create("alice", PASSWORD, "admin")
    secret, _ = await _enable_totp(broker, "alice")
    code = totp.code_at(secret, broker.clock.now() // totp.PERIOD + 1)
    account = await broker.users.account("alice")
    assert account is not None
    # Two logins racing with one code: one wins.
    results = await asyncio.gather(broker.users.use_totp(account, code), broker.users.use_totp(account, code))
    assert sorted(results) == [False, True]
    assert not await broker.users.use_totp(await broker.users.account("alice"), code)  # type: ignore[arg-type]


async def test_recovery_codes_work_once_each_and_are_replaced_by_a_new_setup(broker: Broker) -> None:
    await broker.users.create("alice", PASSWORD, "admin")
    _, codes = await _enable_totp(broker, "alice")
    stored = await _stored(broker, "SELECT code_hash FROM user_recovery_codes")
    assert len(stored) == 10 and not any(code in str(stored) for code in codes)
    results = await asyncio.gather(*(broker.users.use_recovery_code("alice", codes[0]) for _ in range(3)))
    assert sorted(results) == [False, False, True]
    assert await broker.users.use_recovery_code("alice", codes[1].upper())
    assert not await broker.users.use_recovery_code("alice", "aaaa-bbbb-cccc-dddd")
    assert await broker.users.recovery_codes_left("alice") == 8
    await broker.users.disable_totp("alice")
    assert await broker.users.recovery_codes_left("alice") == 0
    assert not (await broker.users.get("alice")).totp_enabled
    assert not await broker.users.use_recovery_code("alice", codes[2])


async def test_user_changes_are_audited_without_secrets(broker: Broker) -> None:
    await broker.users.create("alice", PASSWORD, "admin")
    await broker.users.create("bob", PASSWORD, "viewer")
    await broker.users.set_role("bob", "admin")
    await broker.users.set_password("bob", PASSWORD + "?")
    await _enable_totp(broker, "bob")
    await broker.users.remove("bob")
    entries = await broker.audit.entries(action="user.")
    assert [e.action for e in reversed(entries)] == [
        "user.created",
        "user.created",
        "user.role_changed",
        "user.password_changed",
        "user.totp_enabled",
        "user.removed",
    ]
    assert entries[-1].details == {"first_admin": False, "role": "admin"}
