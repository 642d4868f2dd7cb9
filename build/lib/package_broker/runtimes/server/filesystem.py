"""FilesystemObjectStore: dist archives as files under STORAGE_PATH, metadata in a `.meta.json` beside each.

Writes go to a temporary file in the target directory and are renamed into place, so a reader sees the
whole old object or the whole new one; temporary files a crash left behind are swept when the server
starts, and /health says when the directory is full or read-only. Reads stream 256 KiB chunks from a
worker thread, so a 50 MB archive never sits in memory.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

from ...errors import BackendError
from ...ports.objects import ObjectInfo, StoredObject, check_key

CHUNK = 256 * 1024
#: Below this much free space a write may fail half-way: /health reports the storage as degraded.
LOW_SPACE_BYTES = 64 * 1024 * 1024


def space_problem(directory: Path) -> str | None:
    """Why writes under `directory` would fail (not writable, nearly full), or None. For /health."""
    try:
        usage = shutil.disk_usage(directory)
    except OSError:
        return "not readable"
    if not os.access(directory, os.W_OK):
        return "not writable"
    if usage.free < LOW_SPACE_BYTES:
        return f"low disk space ({usage.free // (1024 * 1024)} MiB free)"
    return None


class FilesystemObjectStore:
    def __init__(self, root: str) -> None:
        self.root = Path(root).resolve()

    def path_of(self, key: str) -> Path:
        """Map a key to a file path, refusing anything that could leave the storage directory."""
        return self.root / check_key(key)

    def _info(self, key: str, path: Path) -> ObjectInfo | None:
        try:
            stat = path.stat()
        except FileNotFoundError:
            return None
        try:
            metadata = json.loads(path.with_name(path.name + ".meta.json").read_text())
        except FileNotFoundError:
            metadata = {}
        return ObjectInfo(key, stat.st_size, int(stat.st_mtime), metadata)

    async def put(self, key: str, data: BinaryIO, *, size: int, metadata: dict[str, str]) -> None:
        path = self.path_of(key)
        await asyncio.to_thread(self._write, path, data, size, metadata)

    @staticmethod
    def _write(path: Path, data: BinaryIO, size: int, metadata: dict[str, str]) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            data.seek(0)
            with tempfile.NamedTemporaryFile("wb", dir=path.parent, delete=False, suffix=".tmp") as out:
                shutil.copyfileobj(data, out, CHUNK)
                out.flush()
                os.fsync(out.fileno())
            # Checked before anything is renamed into place: a refused write leaves the old object whole.
            if os.path.getsize(out.name) != size:
                os.unlink(out.name)
                raise BackendError(f"stored {path.name} has the wrong size")
            meta = path.with_name(path.name + ".meta.json")
            with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as tmp:
                json.dump(metadata, tmp)
            os.replace(tmp.name, meta)
            os.replace(out.name, path)
        except OSError as exc:
            raise BackendError(f"cannot write to the storage directory: {exc.strerror}") from exc

    async def get(self, key: str) -> StoredObject | None:
        path = self.path_of(key)
        info = await asyncio.to_thread(self._info, key, path)
        if info is None:
            return None

        async def chunks() -> AsyncIterator[bytes]:
            with open(path, "rb") as file:
                while chunk := await asyncio.to_thread(file.read, CHUNK):
                    yield chunk

        return StoredObject(info, chunks)

    async def head(self, key: str) -> ObjectInfo | None:
        path = self.path_of(key)
        return await asyncio.to_thread(self._info, key, path)

    async def problem(self) -> str | None:
        """Why storing would fail right now (see `space_problem`), or None."""
        self.root.mkdir(parents=True, exist_ok=True)
        return await asyncio.to_thread(space_problem, self.root)

    async def sweep(self, older_than: float = 3600) -> int:
        """Remove temporary files left by writes that died (a crash, a full disk); returns how many.

        Only files older than `older_than` seconds: a write in progress in another process is left alone.
        """
        return await asyncio.to_thread(self._sweep, older_than)

    def _sweep(self, older_than: float) -> int:
        cutoff = time.time() - older_than
        removed = 0
        for leftover in self.root.rglob("*.tmp"):
            try:
                if leftover.is_file() and leftover.stat().st_mtime < cutoff:
                    leftover.unlink()
                    removed += 1
            except OSError:
                continue
        return removed

    async def delete(self, key: str) -> None:
        path = self.path_of(key)
        for victim in (path, path.with_name(path.name + ".meta.json")):
            try:
                victim.unlink()
            except FileNotFoundError:
                pass
