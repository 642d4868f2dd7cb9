"""Building the server runtime from the environment: settings, the generated key, adapters, migrations."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import secrets
from collections.abc import Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import TypeVar

from ... import migrations
from ...access.ratelimit import Counter
from ...broker import Broker, Ports
from ...config import Settings
from ...errors import ConfigError
from ...ports import Database, KVStore, ObjectStore, SystemClock
from .cipher import CryptographyCipher
from .filesystem import FilesystemObjectStore
from .git_cli import GitCliReader
from .httpx_client import HttpxHttpClient
from .kdf import HashlibKdf
from .memory_kv import MemoryKVStore
from .settings import ServerSettings
from .sqlite import SqliteDatabase
from .sqlite_kv import SqliteKVStore

log = logging.getLogger("package_broker.server")
T = TypeVar("T")
KEY_FILE = "encryption.key"


#: The migrations shipped inside the package.
SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schema"


def ensure_encryption_key(env: Mapping[str, str], data_dir: str) -> tuple[dict[str, str], bool]:
    """Return `env` with ENCRYPTION_KEY set, reading or creating DATA_DIR/encryption.key when it is unset.

    The second value is True when the key was generated just now.
    """
    result = dict(env)
    if (env.get("ENCRYPTION_KEY") or "").strip():
        return result, False
    path = Path(data_dir) / KEY_FILE
    if path.exists():
        result["ENCRYPTION_KEY"] = path.read_text().strip()
        return result, False
    path.parent.mkdir(parents=True, exist_ok=True)
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(key + "\n")
    result["ENCRYPTION_KEY"] = key
    return result, True


def usable_data_dir(data_dir: str) -> None:
    """Make sure DATA_DIR is a directory this process can write (created if missing).

    Raises:
        ConfigError: naming the path and what is wrong (not a directory, read-only, full, no permission).
    """
    path = Path(data_dir)
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        probe = path / f".write-probe-{os.getpid()}"
        probe.write_bytes(b"probe")
        probe.unlink()
    except OSError as exc:
        raise ConfigError("DATA_DIR", f"{path.resolve()} is not a usable directory: {exc.strerror}") from None


def load_settings(env: Mapping[str, str]) -> tuple[Settings, ServerSettings, dict[str, str]]:
    """Validate the environment. Raises ConfigError naming the first bad variable."""
    server = ServerSettings.from_mapping(env)
    usable_data_dir(server.data_dir)
    resolved, generated = ensure_encryption_key(env, server.data_dir)
    if generated:
        log.warning(
            "ENCRYPTION_KEY is not set: generated one in %s. Set ENCRYPTION_KEY explicitly in production and "
            "keep a copy; stored credentials can only be read with this key.",
            Path(server.data_dir) / KEY_FILE,
        )
    try:
        settings = Settings.from_mapping(resolved)
    except ConfigError as exc:
        if not (env.get("ENCRYPTION_KEY") or "").strip() and exc.variable == "ENCRYPTION_KEY":
            raise ConfigError(
                "ENCRYPTION_KEY", f"the key in {Path(server.data_dir) / KEY_FILE} {exc.problem}"
            ) from None
        raise
    return settings, server, resolved


def migrations_dir() -> Path:
    """Where the SQL migrations are: $MIGRATIONS_DIR if set, else the ones shipped inside the package
    (package_broker/schema/, which `wrangler d1 migrations` reads too), so an installed broker works from
    any directory."""
    configured = os.environ.get("MIGRATIONS_DIR")
    candidate = Path(configured) if configured else SCHEMA_DIR
    if candidate.is_dir() and any(candidate.glob("*.sql")):
        return candidate
    if configured:
        raise ConfigError("MIGRATIONS_DIR", f"{configured} holds no *.sql migrations")
    raise ConfigError("MIGRATIONS_DIR", f"the package's migrations are missing from {SCHEMA_DIR}; reinstall it")


def load_migrations(directory: Path | None = None) -> list[migrations.Migration]:
    directory = directory or migrations_dir()
    return [migrations.Migration(p.name, p.read_text()) for p in sorted(directory.glob("*.sql"))]


async def _in_thread(function: Callable[[], T]) -> T:
    return await asyncio.to_thread(function)


async def _resolve(host: str) -> list[str]:
    """Every address a host name resolves to (getaddrinfo runs in a thread; the loop stays free)."""
    found = await asyncio.get_running_loop().getaddrinfo(host, None)
    return sorted({str(info[4][0]) for info in found})


@contextlib.contextmanager
def _extra(variable: str, extra: str) -> Iterator[None]:
    """Turn a missing optional driver package into one line naming the extra that installs it."""
    try:
        yield
    except ModuleNotFoundError as exc:
        raise ConfigError(
            variable,
            f"{variable}={extra} needs the {exc.name} package: pip install 'package-broker[{extra}]' "
            "(the Docker image has it)",
        ) from None


async def open_database(server: ServerSettings) -> Database:
    if server.db_driver == "postgresql":
        # Imported here: psycopg is an optional extra (`pip install 'package-broker[postgresql]'`).
        with _extra("DB_DRIVER", "postgresql"):
            from .postgres import PostgresDatabase

        return await PostgresDatabase.open(server.db_url)
    return await SqliteDatabase.open(server.db_url)


async def open_kv(server: ServerSettings) -> KVStore:
    if server.cache_driver == "redis":
        with _extra("CACHE_DRIVER", "redis"):
            from .redis_kv import RedisKVStore

        return await RedisKVStore.open(server.cache_url, server.cache_prefix)
    if server.cache_driver == "memory":
        return MemoryKVStore()
    return await SqliteKVStore.open(server.cache_url)


async def open_objects(server: ServerSettings) -> ObjectStore:
    if server.storage_driver == "s3":
        with _extra("STORAGE_DRIVER", "s3"):
            from .s3 import S3ObjectStore

        secret = server.s3_secret_access_key
        return await S3ObjectStore.open(
            server.s3_bucket,
            endpoint=server.s3_endpoint,
            region=server.s3_region,
            access_key_id=server.s3_access_key_id,
            secret_access_key=secret.reveal() if secret else None,
        )
    return FilesystemObjectStore(server.storage_path)


def _closer(adapter: object) -> list[Callable[[], Awaitable[None]]]:
    close = getattr(adapter, "aclose", None)
    return [close] if close is not None else []


def private_files(data_dir: str) -> None:
    """Everything this process creates is for its own user only (0600 files, 0700 directories): the
    database, the cache, git mirrors and archives hold private code and secrets' ciphertext."""
    os.umask(0o077)
    path = Path(data_dir)
    if path.is_dir() and path.stat().st_uid == os.getuid():
        path.chmod(0o700)


def _counter(kv: KVStore) -> Counter | None:
    """Redis counts request limits when it is the cache (cheaper than a database write); else the database."""
    if type(kv).__name__ == "RedisKVStore":  # redis is an optional extra: only imported when configured
        from .redis_kv import RedisCounter, RedisKVStore

        assert isinstance(kv, RedisKVStore)
        return RedisCounter(kv.client, kv.prefix)
    return None


async def build_broker(env: Mapping[str, str]) -> Broker:
    """Open every adapter the environment asks for and return the wired broker.

    If one cannot be opened, those opened before it are closed again and the error propagates.
    """
    settings, server, _ = load_settings(env)
    private_files(server.data_dir)
    opened: list[Callable[[], Awaitable[None]]] = []
    try:
        db = await open_database(server)
        opened.append(db.close)
        kv = await open_kv(server)
        opened += _closer(kv)
        objects = await open_objects(server)
        opened += _closer(objects)
    except BaseException:
        for close in reversed(opened):
            await close()
        raise
    http = HttpxHttpClient()
    ports = Ports(
        db=db,
        kv=kv,
        objects=objects,
        clock=SystemClock(),
        http=http,
        git=GitCliReader(str(Path(server.data_dir) / "git")),
        cipher=CryptographyCipher(),
        kdf=HashlibKdf(),
        offload=_in_thread,
        resolve=_resolve,
        runtime="server",
        counter=_counter(kv),
        # Broker.close() closes the database itself.
        closers=[http.aclose, *_closer(kv), *_closer(objects)],
    )
    return Broker(settings, ports)


async def migrate(broker: Broker) -> list[str]:
    return await migrations.apply(broker.ports.db, load_migrations())
