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
from json.encoder import encode_basestring
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
#: JSON string literal of a str (C-accelerated; non-ASCII kept as it is, like every other line).
_quote = encode_basestring
_request_stream: TextIO | None = None


def log_request(
    method: str,
    path: str,
    status: int,
    duration_ms: float,
    request_id: str,
    token_id: str | None,
    refused: str | None = None,
) -> None:
    """Write the one JSON line of a request.

    Straight to the stream once `configure` ran, formatted here rather than through a dict and the JSON
    encoder: the logging module's record machinery, or even a generic encoder, costs a sizeable share of
    a warm metadata request. Same line and key order as `JsonFormatter` would give.
    """
    if not _request_logger.isEnabledFor(logging.INFO):
        return
    if _request_stream is None:
        fields: dict[str, object] = {
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": duration_ms,
            "request_id": request_id,
            "token_id": token_id,
        }
        if refused is not None:
            fields["refused"] = refused
        _request_logger.info("request", extra=fields)
        return
    token = "null" if token_id is None else _quote(token_id)
    tail = "}\n" if refused is None else f', "refused": {_quote(refused)}}}\n'
    _request_stream.write(
        f'{{"time": "{_now()}", {_REQUEST_PREFIX}"method": {_quote(method)}, "path": {_quote(path)}, '
        f'"status": {status}, "duration_ms": {duration_ms!r}, "request_id": {_quote(request_id)}, '
        f'"token_id": {token}{tail}'
    )


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
