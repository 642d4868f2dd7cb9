"""The accounts package's SQL on every database adapter (SQLite and PostgreSQL; the Worker's D1 runs it in
tests/worker/accounts.test.mjs): users, the last-admin and first-admin guards, sessions, two-factor state."""

from __future__ import annotations

import asyncio
import base64
import time
from pathlib import Path
from typing import Any

import pytest

from package_broker import migrations
from package_broker.accounts import passwords, totp
from package_broker.broker import Broker, Ports
from package_broker.config import Secret, Settings
from package_broker.errors import Conflict
from package_broker.runtimes.server.bootstrap import load_migrations
from package_broker.runtimes.server.cipher import CryptographyCipher
from package_broker.runtimes.server.filesystem import FilesystemObjectStore
from package_broker.runtimes.server.kdf import HashlibKdf
from package_broker.runtimes.server.memory_kv import MemoryKVStore

PASSWORD = "correct horse battery staple"


@pytest.fixture
async def core(db: Any, tmp_path: Path) -> Broker:
    await migrations.apply(db, load_migrations())
    objects = FilesystemObjectStore(str(tmp_path / "objects"))
    ports = Ports(db=db, kv=MemoryKVStore(), objects=objects, kdf=HashlibKdf(), cipher=CryptographyCipher())
    key = Secret(base64.b64encode(bytes(range(32))).decode())  # seals TOTP secrets
    return Broker(Settings(memo_seconds=0, password_iterations=10_000, encryption_key=key), ports)


async def test_users_and_their_guards(core: Broker) -> None:
    users = core.users
    first = await asyncio.gather(
        *(users.create(f"admin{i}", PASSWORD, "admin", first=True) for i in range(3)), return_exceptions=True
    )
    assert sum(not isinstance(r, BaseException) for r in first) == 1
    [admin] = [r.name for r in first if not isinstance(r, BaseException)]
    with pytest.raises(Conflict):
        await users.create(admin, PASSWORD, "viewer")
    await users.create("victor", PASSWORD, "viewer")
    assert await users.exists()
    with pytest.raises(Conflict):
        await users.set_role(admin, "viewer")
    with pytest.raises(Conflict):
        await users.remove(admin)
    assert (await users.set_role("victor", "admin")).role == "admin"
    results = await asyncio.gather(
        users.set_role(admin, "viewer"), users.set_role("victor", "viewer"), return_exceptions=True
    )
    # Two admins demoting each other at once: one wins, one admin stays.
    assert sum(isinstance(r, Conflict) for r in results) == 1
    assert len([u for u in await users.all() if u.role == "admin"]) == 1
    await users.set_role(admin, "admin")
    await users.set_role("victor", "viewer")
    await users.remove("victor")
    assert [u.name for u in await users.all()] == [admin]

    account = await users.account(admin)
    assert account is not None
    old = await passwords.hash_password(users.kdf, PASSWORD, 12_000)
    await core.ports.db.execute("UPDATE users SET password_hash = ? WHERE name = ?", (old, admin))
    account = await users.account(admin)
    assert account is not None
    user, record = await users.logged_in(account, PASSWORD, outdated=True)
    await core.ports.db.batch([record])
    assert user.last_login_at is not None and (await users.get(admin)).last_login_at == user.last_login_at
    account = await users.account(admin)
    assert account is not None and account.password_hash.startswith("pbkdf2_sha256$10000$")


async def test_sessions_and_two_factor(core: Broker) -> None:
    await core.users.create("alice", PASSWORD, "admin")
    value, session = await core.sessions.start("alice", "192.0.2.1")
    found = await core.sessions.find(value)
    assert found is not None and found[0] == session and found[1].user.name == "alice"
    await core.sessions.touch(session)
    other, _ = await core.sessions.start("alice", None)
    await core.users.set_password("alice", PASSWORD + "!", keep_session=session.id_hash)
    assert await core.sessions.find(value) is not None and await core.sessions.find(other) is None
    await core.sessions.end(session.id_hash, "alice")
    assert await core.sessions.find(value) is None
    again, _ = await core.sessions.start("alice", None)
    assert await core.sessions.end_all("alice") == 1
    assert await core.sessions.find(again) is None

    secret = await core.users.begin_totp("alice")
    codes = await core.users.confirm_totp("alice", totp.code_at(secret, int(time.time()) // 30))
    account = await core.users.account("alice")
    assert account is not None and account.totp_secret is not None and account.totp_last_step is not None
    # Stored sealed (moved from totp_pending as it was), opened only to check a code.
    assert secret not in account.totp_secret and await core.users.secrets.open(account.totp_secret) == secret
    assert not await core.users.use_totp(account, totp.code_at(secret, account.totp_last_step))
    assert await core.users.use_totp(account, totp.code_at(secret, account.totp_last_step + 1))
    assert await core.users.use_recovery_code("alice", codes[0])
    assert not await core.users.use_recovery_code("alice", codes[0])
    assert await core.users.recovery_codes_left("alice") == 9
    await core.users.disable_totp("alice")
    assert not (await core.users.get("alice")).totp_enabled
    actions = [e.action for e in await core.audit.entries(action="user.")]
    assert {"user.totp_enabled", "user.totp_disabled", "user.recovery_code_used", "user.logout_all"} <= set(actions)
