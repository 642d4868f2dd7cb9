"""A package in a sub-directory of its repository (a monorepo): its dist is that directory alone, with its
composer.json at the top, cut out of the repository's zip.

Composer installs a dist's top folder as the package, so serving the whole repository would install the
wrong tree. The cut copies the entries under the directory (its attributes and times too, so symlinks and
executable bits survive), with the same running size cap as the upload checks; the result then goes through
those checks (`inspect_zip`) before it is stored, like any archive.
"""

from __future__ import annotations

import re
import tempfile
import zipfile
from typing import BinaryIO

from ..errors import InvalidArchive, InvalidInput
from ..ports.blob import SPOOL_IN_MEMORY, Blob, blob_of
from .zips import _CORRUPT, MAX_ENTRIES, MAX_UNCOMPRESSED

_SEGMENT = re.compile(r"[A-Za-z0-9._-]{1,255}", re.ASCII)
_CHUNK = 256 * 1024


def check_subdirectory(path: str) -> str:
    """A sub-directory as sources store it (`packages/lib`), or InvalidInput: relative, no `..`, no `.`."""
    parts = path.strip("/").split("/")
    if not path.strip("/") or any(not _SEGMENT.fullmatch(p) or p in (".", "..") for p in parts):
        raise InvalidInput(f"the sub-directory must be a relative path such as packages/lib (got {path!r})")
    return "/".join(parts)


def _top_folder(names: list[str]) -> str:
    """The one folder every entry sits in (GitHub, GitLab and Bitbucket zips have one), with its slash, or ""."""
    tops = {name.split("/", 1)[0] for name in names}
    if len(tops) == 1 and all("/" in name for name in names):
        return tops.pop() + "/"
    return ""


def subtree(source: Blob, subdirectory: str, *, max_uncompressed: int = MAX_UNCOMPRESSED) -> Blob:
    """A zip of `subdirectory` of the repository zip `source`, its entries at the top (the caller closes it).

    Raises:
        InvalidArchive: the zip cannot be read, expands past the cap, or has nothing under `subdirectory`.
    """
    out: BinaryIO = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # type: ignore[assignment]
    try:
        source.file.seek(0)
        copied = expanded = 0
        with zipfile.ZipFile(source.file) as archive, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as cut:
            infos = archive.infolist()
            if len(infos) > MAX_ENTRIES:
                raise InvalidArchive(f"the archive has more than {MAX_ENTRIES} entries")
            prefix = _top_folder([i.filename for i in infos]) + subdirectory + "/"
            for info in infos:
                if not info.filename.startswith(prefix) or info.is_dir() or len(info.filename) == len(prefix):
                    continue
                entry = zipfile.ZipInfo(info.filename[len(prefix) :], info.date_time)
                entry.external_attr, entry.compress_type = info.external_attr, zipfile.ZIP_DEFLATED
                with archive.open(info) as reader, cut.open(entry, "w") as writer:
                    while chunk := reader.read(_CHUNK):
                        expanded += len(chunk)
                        if expanded > max_uncompressed:
                            raise InvalidArchive("the archive expands beyond the size limit (zip bomb?)")
                        writer.write(chunk)
                copied += 1
        if not copied:
            raise InvalidArchive(f"nothing under {subdirectory}/ at this ref")
        return blob_of(out)
    except _CORRUPT as exc:
        out.close()
        raise InvalidArchive(f"the repository's zip cannot be read: {exc}") from None
    except BaseException:
        out.close()
        raise
    finally:
        source.file.seek(0)
