"""The Worker's application: the core wired to D1, KV, R2 and fetch, built once per isolate on first use.

Nothing happens at import time (workerd forbids I/O and randomness there). `fetch` and `scheduled`
are what src/entry.py delegates to; they differ from the server only in these adapters, and in the
budget each invocation gets (package_broker.budget): the plan's subrequest limits and, for sync work,
SYNC_BUDGET_SECONDS.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from pyodide.ffi import JsProxy

from ... import logs
from ...broker import Broker, Ports
from ...budget import Budget, spending
from ...config import Settings
from ...errors import ConfigError
from ...ports import SystemClock
from ...sources.job import sync_due
from ...web.app import App
from ...web.http import error_response
from .bridge import core_request, js_response
from .d1 import D1Database
from .fetch import FetchHttpClient
from .kdf import WORKERS_MAX_ITERATIONS, WebCryptoKdf
from .kv import WorkersKVStore
from .r2 import R2ObjectStore
from .webcrypto import WebCryptoCipher

log = logging.getLogger("package_broker.worker")

#: Binding names, as declared in wrangler.toml.
DB_BINDING = "DB"
KV_BINDING = "PACKAGE_BROKER_KV"
R2_BINDING = "ARTIFACTS"
#: Plain-text vars (and the ENCRYPTION_KEY secret) read from the environment.
VARIABLES = (
    "ENCRYPTION_KEY",
    "ENCRYPTION_KEY_PREVIOUS",
    "BASE_URL",
    "LOG_LEVEL",
    "MAX_UPLOAD_BYTES",
    "MEMO_SECONDS",
    "SYNC_INTERVAL",
    "SYNC_BUDGET_SECONDS",
    "SUBREQUEST_LIMIT",
    "SERVICE_REQUEST_LIMIT",
    "PRIVATE_UPSTREAMS",
    "RATE_LIMIT",
    "AUTH_FAILURE_LIMIT",
    "SESSION_HOURS",
    "SESSION_IDLE_MINUTES",
    "PASSWORD_ITERATIONS",
    "SETUP_SECRET",
)

#: The largest MAX_UPLOAD_BYTES a Worker accepts. An archive is held once, in one JavaScript buffer, next to
#: Pyodide's Wasm memory, within the isolate's 128 MB: at this size the harness measured 20 MiB of Wasm
#: memory + the 64 MiB archive (tests/worker/limits.test.mjs). Mirrored archives have the same cap.
WORKER_MAX_UPLOAD_BYTES = 64 * 1024 * 1024

_app: App | None = None


def _raw(env: Any) -> Any:
    """The JS env object, also when the workers SDK wrapped it (`_EnvWrapper` keeps it as `_env`)."""
    return getattr(env, "_env", env)


def _binding(env: Any, name: str) -> Any:
    binding = getattr(env, name, None)
    if binding is None:
        raise RuntimeError(f"the {name} binding is missing: declare it in wrangler.toml (see README)")
    return getattr(binding, "_binding", binding)


def _variables(env: Any) -> dict[str, str]:
    found = {}
    for name in VARIABLES:
        value = getattr(env, name, None)
        if isinstance(value, str):
            found[name] = value
    return found


def build(env: Any) -> App:
    """Wire the core to this environment's bindings."""
    raw = _raw(env)
    variables = _variables(raw)
    logs.configure(variables.get("LOG_LEVEL", "info"))
    defaults = {"MAX_UPLOAD_BYTES": str(WORKER_MAX_UPLOAD_BYTES), "PASSWORD_ITERATIONS": str(WORKERS_MAX_ITERATIONS)}
    settings = Settings.from_mapping({**defaults, **variables})
    if settings.password_iterations > WORKERS_MAX_ITERATIONS:
        raise ConfigError(
            "PASSWORD_ITERATIONS",
            f"must be at most {WORKERS_MAX_ITERATIONS} on Workers (Cloudflare's WebCrypto derives no more in one "
            f"call), got {settings.password_iterations}",
        )
    if settings.max_upload_bytes > WORKER_MAX_UPLOAD_BYTES:
        raise ConfigError(
            "MAX_UPLOAD_BYTES",
            f"must be at most {WORKER_MAX_UPLOAD_BYTES} on Workers (an archive is held in the isolate's 128 MB "
            f"of memory), got {settings.max_upload_bytes}",
        )
    ports = Ports(
        db=D1Database(_binding(raw, DB_BINDING)),
        kv=WorkersKVStore(_binding(raw, KV_BINDING)),
        objects=R2ObjectStore(_binding(raw, R2_BINDING)),
        clock=SystemClock(),
        http=FetchHttpClient(),
        git=None,
        cipher=WebCryptoCipher(),
        kdf=WebCryptoKdf(),
        runtime="workers",
        # A D1 write per request would sit on every metadata hit: count in batches (bound: access/ratelimit.py).
        counter_batch=RATE_COUNT_BATCH,
    )
    return App(Broker(settings, ports))


#: Requests an isolate counts before adding them to D1 (one D1 call per this many requests, far from a limit).
RATE_COUNT_BATCH = 10


def app_for(env: Any) -> App:
    global _app
    if _app is None:
        _app = build(env)
    return _app


def invocation_budget(settings: Settings) -> Budget:
    """What one invocation may spend: the plan's subrequests, and SYNC_BUDGET_SECONDS for sync work."""
    return Budget(
        fetches=settings.subrequest_limit,
        services=settings.service_request_limit,
        deadline=time.monotonic() + settings.sync_budget_seconds,
    )


async def handle_fetch(request: Any, env: Any, ctx: Any) -> JsProxy:
    try:
        app = app_for(env)
    except ConfigError as exc:
        # A wrong var or secret: say which (the message never holds a secret's value), on every request.
        log.error("configuration error: %s", exc)
        return js_response(error_response(503, "Service Unavailable", f"The broker is misconfigured: {exc}"))
    with spending(invocation_budget(app.broker.settings)):
        response = await app.handle(core_request(request, ctx.waitUntil))
    return js_response(response)


async def handle_scheduled(controller: Any, env: Any, ctx: Any) -> None:
    """The Cron Trigger: sync the sources that are due within this invocation's budget.

    Never raises: an exception escaping here would leave no trace but the platform's own; the sync job
    records each source's outcome, and anything else is logged as one JSON line.
    """
    try:
        broker = app_for(env).broker
        with spending(invocation_budget(broker.settings)):
            await sync_due(broker, broker.settings.sync_interval)
    except Exception:
        log.exception("scheduled sync failed", extra={"event": "sync"})
