"""Checking an uploaded zip before anything is stored: is it a zip, is it safe to hand to Composer, where
is its composer.json.

Composer clients unpack what we serve, so we refuse archives that would hurt them: entries escaping the
target directory, absolute or escaping symlinks, encrypted entries, and zip bombs (declared or actual
uncompressed size over the limit, absurd compression ratios). Every entry is decompressed once with a
running cap, which also proves the CRCs are right. Works on any seekable file, so the same code runs on
the server (spooled to disk) and on Workers (a JavaScript buffer, see ports/blob.py).
"""

from __future__ import annotations

import stat
import zipfile
from dataclasses import dataclass
from typing import BinaryIO

from ..errors import InvalidArchive
from ..ports.blob import Blob, blob_of

MAX_ENTRIES = 50_000
MAX_UNCOMPRESSED = 1024 * 1024 * 1024
#: Compression ratio above which a large entry is treated as a bomb (text compresses ~5-20x).
MAX_RATIO = 200
_RATIO_FLOOR = 1024 * 1024
_CHUNK = 256 * 1024


@dataclass(frozen=True, slots=True)
class ArchiveInfo:
    #: Raw bytes of the composer.json that describes the package.
    manifest: bytes
    #: Where it was found inside the archive (`composer.json` or `<dir>/composer.json`).
    manifest_path: str
    sha1: str
    size: int
    entries: int


def _check_name(name: str) -> None:
    if "\\" in name or "\0" in name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise InvalidArchive(f"archive entry {name!r} has an absolute or non-portable path")
    if ".." in name.split("/"):
        raise InvalidArchive(f"archive entry {name!r} points outside the archive (..)")


def _check_symlink(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    if not stat.S_ISLNK(info.external_attr >> 16):
        return
    target = archive.read(info)[:4096].decode("utf-8", "replace")
    depth = info.filename.count("/")
    climbs = 0
    for part in target.split("/"):
        climbs += -1 if part == ".." else (1 if part not in ("", ".") else 0)
        if climbs < -depth:
            break
    if target.startswith("/") or climbs < -depth:
        raise InvalidArchive(f"archive entry {info.filename!r} is a symlink pointing outside the archive")


def _find_manifest(names: list[str]) -> str:
    if "composer.json" in names:
        return "composer.json"
    tops = {name.split("/", 1)[0] for name in names}
    if len(tops) == 1:
        candidate = f"{next(iter(tops))}/composer.json"
        if candidate in names:
            return candidate
    raise InvalidArchive("the archive has no composer.json at its top level (or inside its single top directory)")


def inspect_zip(source: Blob | BinaryIO, *, max_uncompressed: int = MAX_UNCOMPRESSED) -> ArchiveInfo:
    """Validate an archive and return its composer.json and checksum.

    Reads the archive through `source`'s seekable file in windows of at most a few hundred KiB, so on
    Workers the archive itself stays in its JavaScript buffer.

    Raises:
        InvalidArchive: with a sentence saying what is wrong; the file is left as it was.
    """
    blob = source if isinstance(source, Blob) else blob_of(source)
    file, sha1, size = blob.file, blob.sha1, blob.size
    file.seek(0)
    if file.read(4) not in (b"PK\x03\x04", b"PK\x05\x06"):
        file.seek(0)
        raise InvalidArchive("the upload is not a zip archive")
    file.seek(0)
    try:
        with zipfile.ZipFile(file) as archive:
            infos = archive.infolist()
            if len(infos) > MAX_ENTRIES:
                raise InvalidArchive(f"the archive has {len(infos)} entries; the limit is {MAX_ENTRIES}")
            declared = 0
            for info in infos:
                _check_name(info.filename)
                if info.flag_bits & 0x1:
                    raise InvalidArchive(f"archive entry {info.filename!r} is encrypted")
                declared += info.file_size
                if info.file_size > _RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
                    raise InvalidArchive(
                        f"archive entry {info.filename!r} expands {info.file_size // max(info.compress_size, 1)}x; "
                        "this looks like a zip bomb"
                    )
            if declared > max_uncompressed:
                raise InvalidArchive(
                    f"the archive expands to {declared} bytes; the limit is {max_uncompressed} (zip bomb?)"
                )
            actual = 0
            for info in infos:
                if info.is_dir():
                    continue
                _check_symlink(archive, info)
                with archive.open(info) as entry:
                    while chunk := entry.read(_CHUNK):
                        actual += len(chunk)
                        if actual > max_uncompressed:
                            raise InvalidArchive("the archive expands beyond the size limit (zip bomb?)")
            manifest_path = _find_manifest([info.filename for info in infos])
            manifest = archive.read(manifest_path)
    except zipfile.BadZipFile as exc:
        raise InvalidArchive(f"the zip archive is corrupt: {exc}") from None
    except (NotImplementedError, EOFError, ValueError) as exc:
        raise InvalidArchive(f"the zip archive cannot be read: {exc}") from None
    finally:
        file.seek(0)
    return ArchiveInfo(manifest, manifest_path, sha1, size, len(infos))
