"""FilesystemObjectStore: dist archives as files under STORAGE_PATH, metadata in a `.meta.json` beside each.

Writes go to a temporary file in the target directory and are renamed into place, so a reader sees the
whole old object or the whole new one. Reads stream 256 KiB chunks from a worker thread, so a 50 MB
archive never sits in memory.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

from ...errors import BackendError
from ...ports.objects import ObjectInfo, StoredObject, check_key

CHUNK = 256 * 1024


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

    async def delete(self, key: str) -> None:
        path = self.path_of(key)
        for victim in (path, path.with_name(path.name + ".meta.json")):
            try:
                victim.unlink()
            except FileNotFoundError:
                pass
