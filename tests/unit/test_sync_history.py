"""A source's sync history (sources.sync_history): newest first, capped, messages cut, unreadable JSON ignored."""

from __future__ import annotations

import json
from dataclasses import replace

from package_broker.sources.store import HISTORY_LENGTH, HISTORY_MESSAGE_CHARS, Source

SOURCE = Source(
    id="src_1a2b3c4d5e",
    kind="git",
    url="https://git.example.com/acme/lib.git",
    credentials=None,
    options=None,
    status="ok",
    status_message=None,
    last_synced_at=None,
    sync_cursor=None,
    enabled=True,
    sync_interval=None,
    created_at=0,
    updated_at=0,
)


def test_outcomes_are_kept_newest_first_and_capped() -> None:
    source = SOURCE
    for n in range(HISTORY_LENGTH + 5):
        source = replace(source, sync_history=source.history_with(n, n + 1, "ok" if n % 2 else "error", f"run {n}"))
    runs = source.history()
    assert len(runs) == HISTORY_LENGTH
    assert [r["message"] for r in runs[:2]] == [f"run {HISTORY_LENGTH + 4}", f"run {HISTORY_LENGTH + 3}"]
    assert runs[0] == {
        "started_at": HISTORY_LENGTH + 4,
        "finished_at": HISTORY_LENGTH + 5,
        "status": "error",
        "message": f"run {HISTORY_LENGTH + 4}",
    }


def test_long_messages_are_cut_and_none_stays_none() -> None:
    runs = json.loads(SOURCE.history_with(1, 2, "error", "x" * 10_000))
    assert len(runs[0]["message"]) == HISTORY_MESSAGE_CHARS
    assert json.loads(SOURCE.history_with(1, 2, "ok", None))[0]["message"] is None


def test_unreadable_history_reads_as_empty() -> None:
    for stored in ("not json", '{"a": 1}', "[1, 2]", ""):
        assert replace(SOURCE, sync_history=stored).history() == []
