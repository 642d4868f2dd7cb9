"""The server's log writer: lines leave the event loop's thread at once, in order, and a reader that stops
reading never blocks the writer (lines beyond the cap are dropped and counted, then said)."""

from __future__ import annotations

import io
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from package_broker import logs
from package_broker.logs import BackgroundWriter


def wait_for(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_lines_are_written_and_flushed_promptly_and_in_order() -> None:
    read_fd, write_fd = os.pipe()
    target = os.fdopen(write_fd, "w")  # block-buffered: only the writer's flush gets lines out
    writer = BackgroundWriter(target)
    try:
        for n in range(100):
            writer.write(f"line {n}\n")
        received = read_until(read_fd, lambda received: received.count(b"\n") == 100)
        assert received.decode().splitlines() == [f"line {n}" for n in range(100)]
    finally:
        writer.close()
        target.close()
        os.close(read_fd)


def read_until(fd: int, done: Callable[[bytes], bool]) -> bytes:
    """What a pipe's reader has received once `done` says it is all there (within 5 s)."""
    os.set_blocking(fd, False)
    received = b""

    def complete() -> bool:
        nonlocal received
        try:
            received += os.read(fd, 65536)
        except BlockingIOError:
            return False
        return done(received)

    wait_for(complete)
    return received


class Stuck(io.StringIO):
    """A reader that stopped reading: a write blocks until released."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        self.release.wait(10)
        return super().write(text)


def test_a_stuck_reader_never_blocks_a_write_and_lines_past_the_cap_are_counted() -> None:
    target = Stuck()
    writer = BackgroundWriter(target, limit=10)
    writer.write("first\n")
    wait_for(lambda: target.writes == 1)  # the thread is now stuck in the target's write
    started = time.monotonic()
    for n in range(50):
        writer.write(f"line {n}\n")
    assert time.monotonic() - started < 1.0, "a write waited for the stuck reader"
    target.release.set()
    writer.close()
    lines = target.getvalue().splitlines()
    assert lines[:11] == ["first"] + [f"line {n}" for n in range(10)]
    dropped = json.loads(lines[-1])
    assert dropped["level"] == "warning" and dropped["msg"].startswith("40 log lines dropped")


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """configure() changes the process's logging: put it back for the tests that run after this one."""
    logger = logging.getLogger("package_broker")
    saved = (list(logger.handlers), logger.level, logger.propagate, logs._request_stream)
    yield
    for handler in logger.handlers:
        logger.removeHandler(handler)
    for handler in saved[0]:
        logger.addHandler(handler)
    logger.setLevel(saved[1])
    logger.propagate = saved[2]
    logs._request_stream = saved[3]


def test_configure_in_the_background_writes_request_lines_through_the_writer(restored_logging: None) -> None:
    read_fd, write_fd = os.pipe()
    target = os.fdopen(write_fd, "w")
    try:
        logs.configure("info", target, background=True)
        logs.log_request("GET", "/packages.json", 200, 0.5, "req_1", None)
        line = json.loads(read_until(read_fd, lambda received: received.endswith(b"\n")))
        assert (line["path"], line["status"], line["token_id"]) == ("/packages.json", 200, None)
    finally:
        assert logs._writer is not None
        logs._writer[1].close()
        target.close()
        os.close(read_fd)
