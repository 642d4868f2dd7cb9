"""JSON log lines on stdout, the same on both runtimes (`npx wrangler tail` shows them as they are).

Call sites log a short message plus fields in `extra`; the formatter writes one JSON object per line.
Nothing secret is ever passed in: tokens appear only as their id (`tok_...`).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime
from typing import TextIO

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        data.update((k, v) for k, v in vars(record).items() if k not in _STANDARD)
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str, ensure_ascii=False)


_request_logger = logging.getLogger("package_broker.request")
_REQUEST_PREFIX = '"level": "info", "logger": "package_broker.request", "msg": "request", '
_encode = json.JSONEncoder(default=str, ensure_ascii=False).encode
_request_stream: TextIO | None = None


def log_request(fields: dict[str, object]) -> None:
    """Write the one JSON line of a request.

    Straight to the stream once `configure` ran: the logging module's record machinery costs more than a
    warm metadata request itself. Same line format as every other log line.
    """
    if not _request_logger.isEnabledFor(logging.INFO):
        return
    if _request_stream is None:
        _request_logger.info("request", extra=fields)
        return
    _request_stream.write(f'{{"time": "{_now()}", {_REQUEST_PREFIX}{_encode(fields)[1:]}\n')


_second = -1
_second_text = ""


def _now() -> str:
    """The current time as ISO 8601 UTC with milliseconds; the seconds part is formatted once a second."""
    global _second, _second_text
    now = time.time()
    second = int(now)
    if second != _second:
        _second, _second_text = second, datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{_second_text}.{int((now - second) * 1000):03d}+00:00"


LEVELS = ("debug", "info", "warning", "error")


def configure(level: str = "info", stream: TextIO | None = None) -> None:
    """Send the broker's logs to stdout (or `stream`) as JSON lines. Safe to call more than once.

    Raises:
        ConfigError: `level` (LOG_LEVEL) is not one of LEVELS.
    """
    global _request_stream
    if level.strip().lower() not in LEVELS:
        from .errors import ConfigError

        raise ConfigError("LOG_LEVEL", f"must be {', '.join(LEVELS[:-1])} or {LEVELS[-1]}, got {level!r}")
    target = stream or sys.stdout
    logger = logging.getLogger("package_broker")
    logger.setLevel(level.strip().upper())
    ours = [h for h in logger.handlers if getattr(h, "_package_broker", False)]
    if ours:
        # A forked server worker inherits the CLI's configuration (stderr): point it where asked.
        ours[0].setStream(target)  # type: ignore[attr-defined]
    else:
        handler = logging.StreamHandler(target)
        handler.setFormatter(JsonFormatter())
        handler._package_broker = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    _request_stream = target
    logger.propagate = False
