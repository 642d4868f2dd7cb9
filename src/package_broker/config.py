"""Settings read from an injected mapping: `os.environ` on the server, the Worker's `env` vars on Cloudflare.

What only the self-hosted server reads (drivers, paths, the port) lives in runtimes/server/settings.py.

Every problem raises `ConfigError` naming the variable and the fix, so `package-broker serve` can exit with
one line instead of a traceback.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from .budget import RESERVE
from .errors import ConfigError

DEFAULT_MAX_UPLOAD_BYTES = 256 * 1024 * 1024
DEFAULT_SYNC_INTERVAL = 300
#: A Worker invocation's limits on the Free plan (developers.cloudflare.com/workers/platform/limits/).
DEFAULT_SUBREQUEST_LIMIT = 50
DEFAULT_SERVICE_REQUEST_LIMIT = 1000


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


def decode_encryption_key(value: str, variable: str = "ENCRYPTION_KEY") -> bytes:
    """Return the 32 raw bytes of an `ENCRYPTION_KEY` (or `ENCRYPTION_KEY_PREVIOUS`, named by `variable`), or
    raise ConfigError explaining what is wrong."""
    try:
        key = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(variable, "is not valid base64; generate one with: openssl rand -base64 32") from None
    if len(key) != 32:
        raise ConfigError(
            variable,
            f"must be base64 of exactly 32 bytes, but decodes to {len(key)} bytes; "
            "generate one with: openssl rand -base64 32",
        )
    return key


def integer_setting(
    env: Mapping[str, str], name: str, default: int, minimum: int = 0, maximum: int | None = None
) -> int:
    """A whole-number setting, or ConfigError naming it."""
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


def _setup_secret(raw: str | None) -> Secret | None:
    """SETUP_SECRET: unset or empty turns first-run setup over HTTP off; a short one is refused (guessable)."""
    if raw is None or not raw.strip():
        return None
    if len(raw.strip()) < 16:
        raise ConfigError("SETUP_SECRET", "must be at least 16 characters; generate one with: openssl rand -hex 16")
    return Secret(raw.strip())


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
    #: The key being rotated away from: still opens what it sealed, never seals (`package-broker keys rotate`).
    previous_encryption_key: Secret | None = None
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
    #: Days the audit log keeps an entry (purged by the scheduled sync, at most once a day); 0 = forever.
    audit_retention_days: int = 365
    #: Requests per hour a token may make unless it has its own limit; 0 = no limit.
    rate_limit: int = 1000
    #: Failed authentications per ten minutes after which a client address is answered 429; 0 = never.
    auth_failure_limit: int = 20
    #: New names one token may make a lazy mirror fetch from its upstream per minute; 0 = no limit.
    mirror_names_per_minute: int = 60
    #: Dashboard sessions end this many hours after sign-in, or after SESSION_IDLE_MINUTES without a request.
    session_hours: int = 12
    session_idle_minutes: int = 120
    #: PBKDF2-SHA256 iterations for new password hashes (accounts/passwords.py; the Worker's cap is 100,000).
    password_iterations: int = 600_000
    #: Lets `POST /api/setup` create the first admin while no user exists (a `wrangler secret` on Workers).
    setup_secret: Secret | None = None

    @classmethod
    def from_mapping(cls, env: Mapping[str, str]) -> Settings:
        key = env.get("ENCRYPTION_KEY")
        if key is not None and key.strip():
            decode_encryption_key(key)
        previous = env.get("ENCRYPTION_KEY_PREVIOUS")
        if previous is not None and previous.strip():
            decode_encryption_key(previous, "ENCRYPTION_KEY_PREVIOUS")
        level = (env.get("LOG_LEVEL") or "info").lower()
        if level not in ("debug", "info", "warning", "error"):
            raise ConfigError("LOG_LEVEL", f"must be debug, info, warning or error, got {level!r}")
        private = (env.get("PRIVATE_UPSTREAMS") or "same-host").strip().lower()
        if private not in ("same-host", "allow", "deny"):
            raise ConfigError("PRIVATE_UPSTREAMS", f"must be same-host, allow or deny, got {private!r}")
        return cls(
            private_upstreams=private,
            encryption_key=Secret(key.strip()) if key and key.strip() else None,
            previous_encryption_key=Secret(previous.strip()) if previous and previous.strip() else None,
            base_url=_base_url(env.get("BASE_URL")),
            max_upload_bytes=integer_setting(env, "MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES, minimum=1024),
            memo_seconds=integer_setting(env, "MEMO_SECONDS", 1),
            sync_interval=integer_setting(env, "SYNC_INTERVAL", DEFAULT_SYNC_INTERVAL),
            sync_budget_seconds=integer_setting(env, "SYNC_BUDGET_SECONDS", 20, minimum=1),
            subrequest_limit=integer_setting(env, "SUBREQUEST_LIMIT", DEFAULT_SUBREQUEST_LIMIT, minimum=2),
            service_request_limit=integer_setting(
                env, "SERVICE_REQUEST_LIMIT", DEFAULT_SERVICE_REQUEST_LIMIT, minimum=RESERVE + 4
            ),
            log_level=level,
            audit_retention_days=integer_setting(env, "AUDIT_RETENTION_DAYS", 365),
            rate_limit=integer_setting(env, "RATE_LIMIT", 1000),
            auth_failure_limit=integer_setting(env, "AUTH_FAILURE_LIMIT", 20),
            mirror_names_per_minute=integer_setting(env, "MIRROR_NAMES_PER_MINUTE", 60),
            session_hours=integer_setting(env, "SESSION_HOURS", 12, minimum=1, maximum=24 * 90),
            session_idle_minutes=integer_setting(env, "SESSION_IDLE_MINUTES", 120, minimum=1),
            password_iterations=integer_setting(
                env, "PASSWORD_ITERATIONS", 600_000, minimum=10_000, maximum=10_000_000
            ),
            setup_secret=_setup_secret(env.get("SETUP_SECRET")),
        )

    def key_bytes(self) -> bytes:
        """Return the encryption key. Raises ConfigError if none is configured."""
        if self.encryption_key is None:
            raise ConfigError("ENCRYPTION_KEY", "is not set; generate one with: openssl rand -base64 32")
        return decode_encryption_key(self.encryption_key.reveal())

    def previous_key_bytes(self) -> bytes | None:
        """Return ENCRYPTION_KEY_PREVIOUS, or None when it is not set."""
        if self.previous_encryption_key is None:
            return None
        return decode_encryption_key(self.previous_encryption_key.reveal(), "ENCRYPTION_KEY_PREVIOUS")
