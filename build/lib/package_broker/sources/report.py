"""What one sync of one source did, for the status line, the CLI and `POST /api/sync`."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SyncReport:
    source_id: str
    #: "ok", "error", "busy" (another sync of the source was running) or "partial" (the run's budget ran
    #: out; the next run continues at `cursor`).
    status: str
    message: str | None = None
    package: str | None = None
    versions: int = 0
    changed: bool = False
    #: (ref, tag, file or version; reason) for everything that was not served.
    skipped: list[tuple[str, str]] = field(default_factory=list)
    #: For "partial": the last item (package name) completed; the next run starts after it.
    cursor: str | None = None
