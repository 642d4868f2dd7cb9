"""Checking an uploaded zip before anything is stored: is it a zip, is it safe to hand to Composer, where
is its composer.json.

Composer clients unpack what we serve, so we refuse archives that would hurt them or that they would not
unpack as we read them: entries escaping the target directory, absolute or escaping symlinks, encrypted
entries, compression other than stored/deflate, two entries that land on the same path once unpacked
(`a/b` twice, `a//b`, `./a/b`, `A/B` on a case-insensitive disk: the broker would read one composer.json
and the client install the other), a path that is both a file and a folder, and zip bombs (an entry or the
whole archive expanding absurdly, or past the absolute limit). Every entry is decompressed once with a
running cap, which also proves the CRCs and sizes are right; nothing is read whole into memory (windows of
`_CHUNK` bytes, a bounded prefix of symlinks and composer.json). Works on any seekable file, so the same
code runs on the server (spooled to disk) and on Workers (a JavaScript buffer, see ports/blob.py).
"""

from __future__ import annotations

import stat
import struct
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass
from typing import BinaryIO

from ..composer.manifest import MAX_MANIFEST_BYTES
from ..errors import InvalidArchive, InvalidManifest
from ..ports.blob import Blob, blob_of

MAX_ENTRIES = 50_000
MAX_UNCOMPRESSED = 1024 * 1024 * 1024
#: Compression ratio above which a large entry is treated as a bomb (text compresses ~5-20x).
MAX_RATIO = 200
_RATIO_FLOOR = 1024 * 1024
#: The whole archive may expand to TOTAL_RATIO_FLOOR, or to MAX_TOTAL_RATIO times its own size if that is
#: more (whole packages compress ~3-6x): the work an upload causes stays proportional to its size.
MAX_TOTAL_RATIO = 50
TOTAL_RATIO_FLOOR = 64 * 1024 * 1024
#: Longest symlink target read (PATH_MAX).
MAX_LINK = 4096
_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
_CHUNK = 256 * 1024
#: What a corrupt archive can make zipfile and zlib raise.
_CORRUPT = (zipfile.BadZipFile, zlib.error, struct.error, EOFError, NotImplementedError, ValueError, OverflowError)


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


def unpacked_path(name: str) -> str:
    """The path an entry lands on once unpacked, compared as a case-insensitive disk compares names.

    unzip and PHP's ZipArchive drop empty and `.` segments (`a//b`, `./a/b`, `a/./b` are `a/b`); macOS and
    Windows disks ignore case and Unicode normalisation (`A/B`, NFD `é`).
    """
    parts = [part for part in name.split("/") if part not in ("", ".")]
    return unicodedata.normalize("NFC", "/".join(parts)).casefold()


class _Paths:
    """The paths of the entries seen so far: refuses two entries on one path, and a file used as a folder."""

    def __init__(self) -> None:
        self._entries: dict[str, str] = {}
        self._files: dict[str, str] = {}
        self._folders: dict[str, str] = {}

    def add(self, info: zipfile.ZipInfo) -> None:
        name = info.filename
        path = unpacked_path(name)
        if not path:
            if info.is_dir():
                return  # `./`: the target directory itself
            raise InvalidArchive(f"archive entry {name!r} names no file")
        if path in self._entries:
            raise InvalidArchive(
                f"archive entries {self._entries[path]!r} and {name!r} are the same file once unpacked"
            )
        self._entries[path] = name
        (self._folders if info.is_dir() else self._files)[path] = name
        parent = path
        while "/" in parent:
            parent = parent.rsplit("/", 1)[0]
            self._folders.setdefault(parent, name)

    def check_conflicts(self) -> None:
        for path in self._files.keys() & self._folders.keys():
            raise InvalidArchive(
                f"archive entry {self._files[path]!r} is a file, but {self._folders[path]!r} uses it as a folder"
            )


def _read_link(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> str | None:
    """The target of a symlink entry (at most MAX_LINK bytes are read), or None if it is not a symlink."""
    if not stat.S_ISLNK(info.external_attr >> 16):
        return None
    with archive.open(info) as entry:
        target = entry.read(MAX_LINK + 1)
    if len(target) > MAX_LINK or not target:
        raise InvalidArchive(f"archive entry {info.filename!r} is a symlink without a usable target")
    return target.decode("utf-8", "replace")


def _check_links(links: dict[str, tuple[str, str]]) -> None:
    """Refuse symlinks that point outside the archive, or that go through another symlink (whose own target
    would have to be followed to know where they land). `links`: unpacked path -> (entry name, target)."""
    for path, (name, target) in links.items():
        if target.startswith("/") or "\\" in target or (len(target) > 1 and target[1] == ":"):
            raise InvalidArchive(f"archive entry {name!r} is a symlink pointing outside the archive")
        resolved = path.split("/")[:-1]
        for part in target.split("/"):
            if part in ("", "."):
                continue
            if resolved and "/".join(resolved) in links:
                raise InvalidArchive(f"archive entry {name!r} is a symlink through another symlink")
            if part != "..":
                resolved.append(unpacked_path(part))
            elif resolved:
                resolved.pop()
            else:
                raise InvalidArchive(f"archive entry {name!r} is a symlink pointing outside the archive")


def _find_manifest(names: list[str]) -> str:
    if "composer.json" in names:
        return "composer.json"
    tops = {name.split("/", 1)[0] for name in names}
    if len(tops) == 1:
        candidate = f"{next(iter(tops))}/composer.json"
        if candidate in names:
            return candidate
    raise InvalidArchive("the archive has no composer.json at its top level (or inside its single top directory)")


def _check_entries(infos: list[zipfile.ZipInfo], size: int, max_uncompressed: int) -> None:
    """What the central directory alone tells: names, paths, encryption, methods and declared sizes."""
    if len(infos) > MAX_ENTRIES:
        raise InvalidArchive(f"the archive has {len(infos)} entries; the limit is {MAX_ENTRIES}")
    paths = _Paths()
    declared = 0
    for info in infos:
        name = info.filename
        _check_name(name)
        paths.add(info)
        if info.flag_bits & 0x1:
            raise InvalidArchive(f"archive entry {name!r} is encrypted")
        if info.compress_type not in _METHODS:
            raise InvalidArchive(
                f"archive entry {name!r} uses compression method {info.compress_type}; use deflate or none "
                "(what zip tools write by default, and what every Composer client unpacks)"
            )
        declared += info.file_size
        if info.file_size > _RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise InvalidArchive(
                f"archive entry {name!r} expands {info.file_size // max(info.compress_size, 1)}x; "
                "this looks like a zip bomb"
            )
    paths.check_conflicts()
    if declared > max_uncompressed:
        raise InvalidArchive(f"the archive expands to {declared} bytes; the limit is {max_uncompressed} (zip bomb?)")
    if declared > max(TOTAL_RATIO_FLOOR, MAX_TOTAL_RATIO * size):
        raise InvalidArchive(
            f"the archive expands {declared // max(size, 1)}x, to {declared} bytes; past "
            f"{TOTAL_RATIO_FLOOR // (1024 * 1024)} MiB an archive may expand at most {MAX_TOTAL_RATIO}x (zip bomb?)"
        )


def inspect_zip(source: Blob | BinaryIO, *, max_uncompressed: int = MAX_UNCOMPRESSED) -> ArchiveInfo:
    """Validate an archive and return its composer.json and checksum.

    Reads the archive through `source`'s seekable file in windows of at most a few hundred KiB, so on
    Workers the archive itself stays in its JavaScript buffer.

    Raises:
        InvalidArchive: with a sentence saying what is wrong; the file is left as it was.
        InvalidManifest: composer.json is larger than a manifest can be.
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
            _check_entries(infos, size, max_uncompressed)
            links: dict[str, tuple[str, str]] = {}
            actual = 0
            for info in infos:
                # Directory entries too: opening an entry checks its local header against the directory.
                if (target := _read_link(archive, info)) is not None:
                    links[unpacked_path(info.filename)] = (info.filename, target)
                with archive.open(info) as entry:
                    while chunk := entry.read(_CHUNK):
                        actual += len(chunk)
                        if actual > max_uncompressed:
                            raise InvalidArchive("the archive expands beyond the size limit (zip bomb?)")
            _check_links(links)
            manifest_path = _find_manifest([info.filename for info in infos])
            manifest_info = archive.getinfo(manifest_path)
            if manifest_info.file_size > MAX_MANIFEST_BYTES:
                raise InvalidManifest(f"composer.json is larger than {MAX_MANIFEST_BYTES // 1024} KiB")
            with archive.open(manifest_info) as entry:
                manifest = entry.read(MAX_MANIFEST_BYTES + 1)
    except zipfile.BadZipFile as exc:
        raise InvalidArchive(f"the zip archive is corrupt: {exc}") from None
    except _CORRUPT as exc:
        raise InvalidArchive(f"the zip archive cannot be read: {exc}") from None
    finally:
        file.seek(0)
    return ArchiveInfo(manifest, manifest_path, sha1, size, len(infos))
