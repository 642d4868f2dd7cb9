"""Settings read from an injected mapping: `os.environ` on the server, the Worker's `env` vars on Cloudflare.

Every problem raises `ConfigError` naming the variable and the fix, so `package-broker serve` can exit with
one line instead of a traceback.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .budget import RESERVE
from .errors import ConfigError

DEFAULT_PORT = 8080
DEFAULT_DATA_DIR = "./package-broker-data"
DEFAULT_MAX_UPLOAD_BYTES = 256 * 1024 * 1024
DEFAULT_SYNC_INTERVAL = 300
#: A Worker invocation's limits on the Free plan (developers.cloudflare.com/workers/platform/limits/).
DEFAULT_SUBREQUEST_LIMIT = 50
DEFAULT_SERVICE_REQUEST_LIMIT = 1000

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_CACHE_PREFIX = "pkb:"
DEFAULT_S3_REGION = "us-east-1"

DB_DRIVERS = ("sqlite", "postgresql")
STORAGE_DRIVERS = ("filesystem", "s3")
CACHE_DRIVERS = ("sqlite", "memory", "redis")
_DRIVER_ALIASES = {
    "fs": "filesystem",
    "file": "filesystem",
    "local": "filesystem",
    "sqlite3": "sqlite",
    "postgres": "postgresql",
    "pg": "postgresql",
}


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
    #: How long one scheduled run may keep starting new sync steps (keeps a cron run within limits).
    sync_budget_seconds: int = 20
    #: Workers only: outbound fetches one invocation may make (Free plan: 50; Paid: 10,000 in all).
    subrequest_limit: int = DEFAULT_SUBREQUEST_LIMIT
    #: Workers only: calls to D1, KV and R2 one invocation may make (Free plan: 1,000).
    service_request_limit: int = DEFAULT_SERVICE_REQUEST_LIMIT
    #: Where URLs an upstream names may point: "same-host", "allow" or "deny" (sources/addresses.py).
    private_upstreams: str = "same-host"
    log_level: str = "info"

    @classmethod
    def from_mapping(cls, env: Mapping[str, str]) -> Settings:
        key = env.get("ENCRYPTION_KEY")
        if key is not None and key.strip():
            decode_encryption_key(key)
        level = (env.get("LOG_LEVEL") or "info").lower()
        if level not in ("debug", "info", "warning", "error"):
            raise ConfigError("LOG_LEVEL", f"must be debug, info, warning or error, got {level!r}")
        private = (env.get("PRIVATE_UPSTREAMS") or "same-host").strip().lower()
        if private not in ("same-host", "allow", "deny"):
            raise ConfigError("PRIVATE_UPSTREAMS", f"must be same-host, allow or deny, got {private!r}")
        return cls(
            private_upstreams=private,
            encryption_key=Secret(key.strip()) if key and key.strip() else None,
            base_url=_base_url(env.get("BASE_URL")),
            max_upload_bytes=_integer(env, "MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES, minimum=1024),
            memo_seconds=_integer(env, "MEMO_SECONDS", 1),
            sync_interval=_integer(env, "SYNC_INTERVAL", DEFAULT_SYNC_INTERVAL),
            sync_budget_seconds=_integer(env, "SYNC_BUDGET_SECONDS", 20, minimum=1),
            subrequest_limit=_integer(env, "SUBREQUEST_LIMIT", DEFAULT_SUBREQUEST_LIMIT, minimum=2),
            service_request_limit=_integer(
                env, "SERVICE_REQUEST_LIMIT", DEFAULT_SERVICE_REQUEST_LIMIT, minimum=RESERVE + 4
            ),
            log_level=level,
        )

    def key_bytes(self) -> bytes:
        """Return the encryption key. Raises ConfigError if none is configured."""
        if self.encryption_key is None:
            raise ConfigError("ENCRYPTION_KEY", "is not set; generate one with: openssl rand -base64 32")
        return decode_encryption_key(self.encryption_key.reveal())


def _db_url(env: Mapping[str, str], driver: str, data_dir: str) -> str:
    raw = (env.get("DB_URL") or "").strip()
    if driver == "postgresql":
        example = "postgresql://user:password@host:5432/dbname"
        if not raw:
            raise ConfigError("DB_URL", f"DB_DRIVER=postgresql needs DB_URL set to a URL such as {example}")
        # The value may hold a password: it never goes into a message.
        if urlsplit(raw).scheme not in ("postgresql", "postgres"):
            raise ConfigError("DB_URL", f"DB_DRIVER=postgresql needs a URL such as {example}")
        return raw
    db_url = raw or f"{data_dir}/package-broker.sqlite"
    if db_url.startswith("sqlite:///"):
        db_url = db_url[len("sqlite:///") :]
    elif "://" in db_url:
        raise ConfigError(
            "DB_URL",
            f"DB_DRIVER=sqlite needs a file path such as {data_dir}/package-broker.sqlite "
            "(for a postgresql:// URL set DB_DRIVER=postgresql)",
        )
    return db_url


def _cache_url(env: Mapping[str, str], driver: str, data_dir: str) -> str:
    raw = (env.get("CACHE_URL") or "").strip()
    if driver == "redis":
        if not raw:
            return DEFAULT_REDIS_URL
        if urlsplit(raw).scheme not in ("redis", "rediss", "unix"):
            raise ConfigError(
                "CACHE_URL", f"CACHE_DRIVER=redis needs a URL such as {DEFAULT_REDIS_URL} (or rediss:// for TLS)"
            )
        return raw
    if driver == "sqlite" and "://" in raw:
        raise ConfigError(
            "CACHE_URL",
            f"CACHE_DRIVER=sqlite needs a file path such as {data_dir}/cache.sqlite "
            "(for a redis:// URL set CACHE_DRIVER=redis)",
        )
    return raw or f"{data_dir}/cache.sqlite"


def _s3_endpoint(raw: str | None) -> str | None:
    if raw is None or raw.strip() == "":
        return None
    parts = urlsplit(raw.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(
            "S3_ENDPOINT",
            "must be an http(s) URL such as https://<account>.r2.cloudflarestorage.com or http://minio:9000",
        )
    if "@" in parts.netloc or parts.query or parts.fragment:
        raise ConfigError(
            "S3_ENDPOINT", "must not contain credentials or a query; use S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY"
        )
    return raw.strip().rstrip("/")


@dataclass(frozen=True)
class ServerSettings:
    """What only the self-hosted server reads: where data lives, which drivers, which port."""

    data_dir: str = DEFAULT_DATA_DIR
    db_driver: str = "sqlite"
    #: A file path (sqlite) or a postgresql:// URL, which may hold a password: kept out of repr.
    db_url: str = field(default="", repr=False)
    storage_driver: str = "filesystem"
    storage_path: str = ""
    cache_driver: str = "sqlite"
    #: A file path (sqlite) or a redis:// URL, which may hold a password: kept out of repr.
    cache_url: str = field(default="", repr=False)
    #: Prepended to every Redis key, so several brokers can share one Redis.
    cache_prefix: str = DEFAULT_CACHE_PREFIX
    s3_bucket: str = ""
    #: None: AWS itself; otherwise any S3-compatible endpoint (R2, MinIO, ...).
    s3_endpoint: str | None = None
    s3_region: str = DEFAULT_S3_REGION
    #: None: boto3's own chain (AWS_ACCESS_KEY_ID, ~/.aws, instance roles, ...).
    s3_access_key_id: str | None = None
    s3_secret_access_key: Secret | None = None
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    workers: int = 1

    @classmethod
    def from_mapping(cls, env: Mapping[str, str]) -> ServerSettings:
        data_dir = (env.get("DATA_DIR") or DEFAULT_DATA_DIR).rstrip("/") or "/"
        db_driver = _driver(env, "DB_DRIVER", "sqlite", DB_DRIVERS)
        db_url = _db_url(env, db_driver, data_dir)
        storage_driver = _driver(env, "STORAGE_DRIVER", "filesystem", STORAGE_DRIVERS)
        s3_bucket = (env.get("S3_BUCKET") or "").strip()
        if storage_driver == "s3" and not s3_bucket:
            raise ConfigError("S3_BUCKET", "STORAGE_DRIVER=s3 needs the name of the bucket for dist archives")
        key_id = (env.get("S3_ACCESS_KEY_ID") or "").strip() or None
        secret_key = (env.get("S3_SECRET_ACCESS_KEY") or "").strip() or None
        if storage_driver == "s3" and (key_id is None) != (secret_key is None):
            missing = "S3_SECRET_ACCESS_KEY" if secret_key is None else "S3_ACCESS_KEY_ID"
            raise ConfigError(missing, "set S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY together (or neither)")
        regions = (env.get(name, "").strip() for name in ("S3_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"))
        region = next((value for value in regions if value), DEFAULT_S3_REGION)
        cache_driver = _driver(env, "CACHE_DRIVER", "sqlite", CACHE_DRIVERS)
        return cls(
            data_dir=data_dir,
            db_driver=db_driver,
            db_url=db_url,
            storage_driver=storage_driver,
            storage_path=env.get("STORAGE_PATH") or f"{data_dir}/artifacts",
            cache_driver=cache_driver,
            cache_url=_cache_url(env, cache_driver, data_dir),
            cache_prefix=env.get("CACHE_PREFIX", DEFAULT_CACHE_PREFIX),
            s3_bucket=s3_bucket,
            s3_endpoint=_s3_endpoint(env.get("S3_ENDPOINT")) if storage_driver == "s3" else None,
            s3_region=region,
            s3_access_key_id=key_id,
            s3_secret_access_key=Secret(secret_key) if secret_key else None,
            host=env.get("HOST") or "127.0.0.1",
            port=_integer(env, "PORT", DEFAULT_PORT, minimum=1, maximum=65535),
            workers=_integer(env, "WORKERS", 1, minimum=1),
        )
