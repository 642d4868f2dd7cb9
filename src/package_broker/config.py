"""Settings read from an injected mapping: `os.environ` on the server, the Worker's `env` vars on Cloudflare.

Every problem raises `ConfigError` naming the variable and the fix, so `package-broker serve` can exit with
one line instead of a traceback.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from .errors import ConfigError

DEFAULT_PORT = 8080
DEFAULT_DATA_DIR = "./package-broker-data"
DEFAULT_MAX_UPLOAD_BYTES = 256 * 1024 * 1024
DEFAULT_SYNC_INTERVAL = 300

DB_DRIVERS = ("sqlite",)
STORAGE_DRIVERS = ("filesystem",)
CACHE_DRIVERS = ("sqlite", "memory")
_DRIVER_ALIASES = {"fs": "filesystem", "file": "filesystem", "local": "filesystem", "sqlite3": "sqlite"}


class Secret:
    """A string that never shows itself in `repr`, logs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__


def decode_encryption_key(value: str) -> bytes:
    """Return the 32 raw bytes of an `ENCRYPTION_KEY`, or raise ConfigError explaining what is wrong."""
    try:
        key = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError("ENCRYPTION_KEY", "is not valid base64; generate one with: openssl rand -base64 32") from None
    if len(key) != 32:
        raise ConfigError(
            "ENCRYPTION_KEY",
            f"must be base64 of exactly 32 bytes, but decodes to {len(key)} bytes; "
            "generate one with: openssl rand -base64 32",
        )
    return key


def _driver(env: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = (env.get(name) or default).strip().lower()
    value = _DRIVER_ALIASES.get(value, value)
    if value not in allowed:
        raise ConfigError(name, f"unknown driver {value!r}; use one of: {', '.join(allowed)}")
    return value


def _integer(env: Mapping[str, str], name: str, default: int, minimum: int = 0, maximum: int | None = None) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(name, f"must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(name, f"must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ConfigError(name, f"must be at most {maximum}, got {value}")
    return value


def _base_url(raw: str | None) -> str | None:
    if raw is None or raw.strip() == "":
        return None
    parts = urlsplit(raw.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(
            "BASE_URL", f"must be an absolute http(s) URL such as https://composer.example.com, got {raw!r}"
        )
    if parts.query or parts.fragment or "@" in parts.netloc:
        raise ConfigError("BASE_URL", "must not contain credentials, a query or a fragment")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


@dataclass(frozen=True)
class Settings:
    """Everything the core needs to know about its deployment. Runtime-specific parts live in the adapters."""

    encryption_key: Secret | None = None
    #: Public URL of the broker (scheme, host, optional path), used for absolute dist URLs behind a proxy.
    #: None: derived from each request's Host.
    base_url: str | None = None
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    #: Seconds an in-process cache may serve before re-checking the shared key/value store.
    memo_seconds: int = 1
    #: Seconds between scheduled syncs of a source (server scheduler and Worker cron alike); 0 = off.
    sync_interval: int = DEFAULT_SYNC_INTERVAL
    #: How long one scheduled run may keep starting new source syncs (keeps a cron run within limits).
    sync_budget_seconds: int = 20
    log_level: str = "info"

    @classmethod
    def from_mapping(cls, env: Mapping[str, str]) -> Settings:
        key = env.get("ENCRYPTION_KEY")
        if key is not None and key.strip():
            decode_encryption_key(key)
        level = (env.get("LOG_LEVEL") or "info").lower()
        if level not in ("debug", "info", "warning", "error"):
            raise ConfigError("LOG_LEVEL", f"must be debug, info, warning or error, got {level!r}")
        return cls(
            encryption_key=Secret(key.strip()) if key and key.strip() else None,
            base_url=_base_url(env.get("BASE_URL")),
            max_upload_bytes=_integer(env, "MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES, minimum=1024),
            memo_seconds=_integer(env, "MEMO_SECONDS", 1),
            sync_interval=_integer(env, "SYNC_INTERVAL", DEFAULT_SYNC_INTERVAL),
            sync_budget_seconds=_integer(env, "SYNC_BUDGET_SECONDS", 20, minimum=1),
            log_level=level,
        )

    def key_bytes(self) -> bytes:
        """Return the encryption key. Raises ConfigError if none is configured."""
        if self.encryption_key is None:
            raise ConfigError("ENCRYPTION_KEY", "is not set; generate one with: openssl rand -base64 32")
        return decode_encryption_key(self.encryption_key.reveal())


@dataclass(frozen=True)
class ServerSettings:
    """What only the self-hosted server reads: where data lives, which drivers, which port."""

    data_dir: str = DEFAULT_DATA_DIR
    db_driver: str = "sqlite"
    db_url: str = ""
    storage_driver: str = "filesystem"
    storage_path: str = ""
    cache_driver: str = "sqlite"
    cache_url: str = ""
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    workers: int = 1

    @classmethod
    def from_mapping(cls, env: Mapping[str, str]) -> ServerSettings:
        data_dir = (env.get("DATA_DIR") or DEFAULT_DATA_DIR).rstrip("/") or "/"
        db_driver = _driver(env, "DB_DRIVER", "sqlite", DB_DRIVERS)
        db_url = env.get("DB_URL") or f"{data_dir}/package-broker.sqlite"
        if db_url.startswith("sqlite:///"):
            db_url = db_url[len("sqlite:///") :]
        elif "://" in db_url:
            raise ConfigError("DB_URL", f"DB_DRIVER=sqlite needs a file path such as {data_dir}/package-broker.sqlite")
        storage_driver = _driver(env, "STORAGE_DRIVER", "filesystem", STORAGE_DRIVERS)
        cache_driver = _driver(env, "CACHE_DRIVER", "sqlite", CACHE_DRIVERS)
        return cls(
            data_dir=data_dir,
            db_driver=db_driver,
            db_url=db_url,
            storage_driver=storage_driver,
            storage_path=env.get("STORAGE_PATH") or f"{data_dir}/artifacts",
            cache_driver=cache_driver,
            cache_url=env.get("CACHE_URL") or f"{data_dir}/cache.sqlite",
            host=env.get("HOST") or "127.0.0.1",
            port=_integer(env, "PORT", DEFAULT_PORT, minimum=1, maximum=65535),
            workers=_integer(env, "WORKERS", 1, minimum=1),
        )
