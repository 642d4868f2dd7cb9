"""What only the self-hosted server reads from its environment: where data lives, which drivers, which port.

Like the core's Settings (package_broker.config), every problem raises ConfigError naming the variable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ...config import Secret, integer_setting
from ...errors import ConfigError

DEFAULT_PORT = 8080
DEFAULT_DATA_DIR = "./package-broker-data"
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


def _driver(env: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = (env.get(name) or default).strip().lower()
    value = _DRIVER_ALIASES.get(value, value)
    if value not in allowed:
        raise ConfigError(name, f"unknown driver {value!r}; use one of: {', '.join(allowed)}")
    return value


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
    #: Behind a reverse proxy: the header it sets to the client's address (e.g. x-forwarded-for; its last
    #: entry is used, the one the proxy added). None: the TCP peer's address.
    trusted_proxy_header: str | None = None

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
            port=integer_setting(env, "PORT", DEFAULT_PORT, minimum=1, maximum=65535),
            workers=integer_setting(env, "WORKERS", 1, minimum=1),
            trusted_proxy_header=(env.get("TRUSTED_PROXY_HEADER") or "").strip().lower() or None,
        )
