"""`package-broker serve`: migrate, make sure there is a way in, then run granian with the ASGI adapter.

granian imports `create_app` in each worker process; workers read the same environment and the same
DATA_DIR (including a generated encryption key), so they all serve the same data.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys

from ... import logs
from ...config import Settings
from ...ports.metered import unwrap
from ...sources.job import sync_due
from ...web.app import App
from .asgi import AsgiAdapter
from .bootstrap import build_broker
from .settings import ServerSettings

log = logging.getLogger("package_broker.server")
#: The first scheduled sync runs this soon after start, then every SYNC_INTERVAL seconds.
FIRST_SYNC_DELAY = 5


def _scheduler(interval: int):  # type: ignore[no-untyped-def]
    async def loop(app: App) -> None:
        await asyncio.sleep(FIRST_SYNC_DELAY)
        while True:
            try:
                await sync_due(app.broker, interval)
            except Exception:
                log.exception("scheduled sync failed")
            await asyncio.sleep(interval)

    return loop


def create_app() -> AsgiAdapter:
    """granian's factory: one adapter per worker process."""
    logs.configure(os.environ.get("LOG_LEVEL", "info"), background=True)

    async def factory() -> App:
        broker = await build_broker(os.environ)
        sweep = getattr(unwrap(broker.ports.objects), "sweep", None)
        if sweep is not None and (removed := await sweep()):
            log.info("removed %d temporary files left by interrupted writes", removed)
        return App(broker)

    async def shutdown(app: App) -> None:
        await app.broker.close()

    interval = Settings.from_mapping(os.environ).sync_interval
    proxy_header = ServerSettings.from_mapping(os.environ).trusted_proxy_header
    return AsgiAdapter(factory, shutdown, [_scheduler(interval)] if interval > 0 else [], client_header=proxy_header)


def claim_port(host: str, port: int) -> None:
    """Fail now if anything listens on host:port.

    granian binds with SO_REUSEPORT, so a second broker on a busy port would start and the kernel would
    split requests between two brokers with different data. A probe socket without SO_REUSEPORT cannot
    bind where anyone listens (SO_REUSEADDR only lets it past connections lingering in TIME_WAIT).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))


def run(host: str, port: int, workers: int) -> None:
    from granian import Granian
    from granian.constants import Interfaces

    try:
        Granian(
            "package_broker.runtimes.server.serve:create_app",
            factory=True,
            address=host,
            port=port,
            interface=Interfaces.ASGI,
            workers=workers,
            log_access=False,
            log_level=os.environ.get("LOG_LEVEL", "info").lower(),  # type: ignore[arg-type]
            respawn_failed_workers=True,
        ).serve()
    except OSError as exc:
        print(f"error: cannot listen on {host}:{port}: {exc.strerror} (set PORT to use another port)", file=sys.stderr)
        raise SystemExit(1) from None
