"""JSON log lines on stdout, the same on both runtimes (`npx wrangler tail` shows them as they are).

Call sites log a short message plus fields in `extra`; the formatter writes one JSON object per line.
Nothing secret is ever passed in: tokens appear only as their id (`tok_...`).

The server writes through a `BackgroundWriter` (a thread of its own), never on the event loop; the Worker,
which has no threads and whose stdout is the console, writes directly.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import sys
import threading
import time
from datetime import UTC, datetime
from json.encoder import encode_basestring
from queue import Empty, SimpleQueue
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


class BackgroundWriter:
    """A text stream whose writes are queued and written, then flushed, by a thread of its own.

    Why: written on the event loop, a log line is a blocking write whenever whatever reads the server's
    stdout (a container runtime, journald, a pipe) is slow, and every request waits for it; and stdout,
    block-buffered when it is not a terminal, would show a quiet server's lines up to 8 KB late. Here a
    line costs the loop one queue put; the thread writes whatever has queued up and flushes, so lines
    appear at once and a slow reader only holds up the thread. At most `limit` lines wait: beyond that
    they are dropped and counted, and the next write says how many.
    """

    def __init__(self, target: TextIO, limit: int = 10_000, gather: float = 0.05) -> None:
        self.target = target
        self.limit = limit
        self.gather = gather
        self._queue: SimpleQueue[str | None] = SimpleQueue()
        self._dropped = 0
        self._thread = threading.Thread(target=self._run, name="package-broker-log", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def write(self, text: str) -> int:
        if self._queue.qsize() >= self.limit:
            self._dropped += 1
        else:
            self._queue.put(text)
        return len(text)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def flush(self) -> None:
        """Nothing to do: the thread flushes after each write (logging's StreamHandler calls this)."""

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued, then stop the thread (at exit; waits at most `timeout` seconds)."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            pending = [self._queue.get()]
            try:
                while len(pending) < self.limit:
                    pending.append(self._queue.get_nowait())
            except Empty:
                pass
            if self._dropped:
                dropped, self._dropped = self._dropped, 0
                pending.append(_dropped_line(dropped))
            try:
                self.target.write("".join(line for line in pending if line is not None))
                self.target.flush()
            except (OSError, ValueError):
                pass  # stdout closed or gone: there is nowhere left to log to
            if None in pending:
                return
            # A line after a quiet spell is written at once; then a busy server's lines gather for this
            # long, so it costs one write and one wake-up per batch, not per line (a put that wakes a
            # waiting thread costs the event loop's thread several times more than one that does not).
            time.sleep(self.gather)


def _dropped_line(count: int) -> str:
    return (
        f'{{"time": "{_now()}", "level": "warning", "logger": "package_broker", "msg": '
        f'"{count} log lines dropped: whatever reads the log is not keeping up"}}\n'
    )


#: The process that started the writer, and the writer: one thread per process (granian's workers each
#: configure logging again, and a thread does not survive a fork).
_writer: tuple[int, BackgroundWriter] | None = None


def _background(target: TextIO) -> BackgroundWriter:
    global _writer
    if _writer is None or _writer[0] != os.getpid() or _writer[1].target is not target or not _writer[1].alive:
        if _writer is not None and _writer[0] == os.getpid():
            _writer[1].close()
        _writer = (os.getpid(), BackgroundWriter(target))
    return _writer[1]


LEVELS = ("debug", "info", "warning", "error")


def configure(level: str = "info", stream: TextIO | None = None, *, background: bool = False) -> None:
    """Send the broker's logs to stdout (or `stream`) as JSON lines. Safe to call more than once.

    `background`: write through a BackgroundWriter (the server; the Worker has no threads).

    Raises:
        ConfigError: `level` (LOG_LEVEL) is not one of LEVELS.
    """
    global _request_stream
    if level.strip().lower() not in LEVELS:
        from .errors import ConfigError

        raise ConfigError("LOG_LEVEL", f"must be {', '.join(LEVELS[:-1])} or {LEVELS[-1]}, got {level!r}")
    target: TextIO = stream or sys.stdout
    if background:
        target = _background(target)  # type: ignore[assignment]
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
