"""A package's README, read from the stored dist archive of its newest stable version, for the dashboard.

The archive came from outside (an upload, an upstream), so everything is capped: archives larger than
MAX_ARCHIVE_BYTES are not opened at all, the README is read up to MAX_README_BYTES (decompressed, so a
zip bomb stops there), and the text is returned as text, never as HTML: the UI renders it safely.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

from ..composer.documents import tag_order
from ..composer.versions import parse_stability
from ..errors import BrokerError
from ..ports.blob import spool
from .store import VersionRow

if TYPE_CHECKING:
    from ..broker import Broker

#: Archives above this size are not read for a README: a dashboard page must stay cheap, and on Workers the
#: archive passes through Pyodide's memory, which never shrinks once grown.
MAX_ARCHIVE_BYTES = 8 * 1024 * 1024
#: The most README text returned (decompressed bytes).
MAX_README_BYTES = 256 * 1024
#: Names tried, in this order, at the archive's top level (or inside its single top directory).
NAMES = ("readme.md", "readme", "readme.markdown", "readme.txt", "readme.rst")


@dataclass(frozen=True, slots=True)
class Readme:
    version: str
    #: The file's name in the archive, e.g. "README.md".
    filename: str
    text: str
    #: True when the file was longer than MAX_README_BYTES and was cut there.
    truncated: bool


def readme_version(rows: list[VersionRow]) -> VersionRow | None:
    """The version whose README is shown: the newest stable tag, else the newest tag, else a branch."""
    tags = [row for row in rows if not row.is_dev]
    stable = [row for row in tags if parse_stability(row.version_normalized) == "stable"]
    for candidates in (stable, tags):
        if candidates:
            return max(candidates, key=lambda row: tag_order(row.version_normalized))
    return min(rows, key=lambda row: row.version_normalized) if rows else None


def read_readme(file: BinaryIO) -> tuple[str, str, bool] | None:
    """(file name, text, truncated) of the README in a zip, or None when there is none or it is unreadable."""
    try:
        with zipfile.ZipFile(file) as archive:
            infos = [i for i in archive.infolist() if not i.is_dir()]
            tops = {i.filename.split("/", 1)[0] for i in infos}
            prefix = f"{next(iter(tops))}/" if len(tops) == 1 and all("/" in i.filename for i in infos) else ""
            by_name = {i.filename[len(prefix) :].lower(): i for i in infos if i.filename.startswith(prefix)}
            chosen = next((by_name[n] for n in NAMES if n in by_name), None)
            if chosen is None or chosen.flag_bits & 0x1:  # absent, or encrypted
                return None
            with archive.open(chosen) as entry:
                data = entry.read(MAX_README_BYTES + 1)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, OSError, ValueError, EOFError):
        return None
    truncated = len(data) > MAX_README_BYTES
    text = data[:MAX_README_BYTES].decode("utf-8", errors="replace")
    return chosen.filename.rsplit("/", 1)[-1], text, truncated


async def package_readme(broker: Broker, name: str) -> Readme | None:
    """The README of `name`'s newest stable version, if its archive is stored and holds one."""
    row = readme_version(await broker.catalog.served_versions(name))
    if row is None:
        return None
    dist = await broker.catalog.dist(name, row.reference)
    if dist is None or dist.size > MAX_ARCHIVE_BYTES:
        return None
    stored = await broker.ports.objects.get(dist.object_key)
    if stored is None:
        return None
    try:
        blob = await spool(stored.open(), MAX_ARCHIVE_BYTES, "the archive")
    except BrokerError:
        return None
    with blob:
        found = await broker.ports.offload(lambda: read_readme(blob.file))
    if found is None:
        return None
    filename, text, truncated = found
    return Readme(row.version, filename, text, truncated)
