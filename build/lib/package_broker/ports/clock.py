"""Time, as a port, so tests can move it (token expiry, Last-Modified) without sleeping."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> int:
        """Return the current Unix time in whole seconds (HTTP dates have one-second resolution)."""
        ...


class SystemClock:
    """The real clock; works unchanged under Pyodide."""

    def now(self) -> int:
        return int(time.time())
