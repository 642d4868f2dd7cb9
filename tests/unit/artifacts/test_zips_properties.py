"""Properties of the zip checker on random, truncated, duplicated and garbled archives: it never fails with
anything but InvalidArchive (or InvalidManifest for an oversized composer.json), and what it accepts has no
two entries on one unpacked path and no entry or symlink outside the archive."""

from __future__ import annotations

import io
import stat
import struct
import warnings
import zipfile

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from package_broker.artifacts.zips import inspect_zip, unpacked_path
from package_broker.errors import InvalidArchive, InvalidManifest

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MANIFEST = b'{"name": "acme/lib", "version": "1.0.0"}'

#: Path segments that matter: case variants, `.`/`..`, empty segments (`a//b`), a Windows drive.
segments = st.sampled_from(["a", "A", "b", "src", "SRC", ".", "..", "", "composer.json", "COMPOSER.JSON", "c:", "é"])
names = st.lists(segments, min_size=1, max_size=4).map("/".join)
contents = st.binary(max_size=64) | st.sampled_from([MANIFEST, b"\0" * 5000, b"../../x", b"/etc/passwd"])


@st.composite
def archives(draw: st.DrawFn) -> bytes:
    """A zip of random entries (files, folders, symlinks), sometimes with the same name twice."""
    entries = [("composer.json", MANIFEST, "file")] if draw(st.booleans()) else []
    entries += draw(st.lists(st.tuples(names, contents, st.sampled_from(["file", "dir", "link"])), max_size=6))
    if entries and draw(st.booleans()):
        entries.append(draw(st.sampled_from(entries)))  # a duplicated entry
    buffer = io.BytesIO()
    method = draw(st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Duplicate name"
        with zipfile.ZipFile(buffer, "w", method) as archive:
            for name, content, kind in entries:
                info = zipfile.ZipInfo(name + ("/" if kind == "dir" else ""), date_time=(2020, 1, 1, 0, 0, 0))
                if kind == "link":
                    info.external_attr = (stat.S_IFLNK | 0o777) << 16
                archive.writestr(info, b"" if kind == "dir" else content, method)
    return buffer.getvalue()


@st.composite
def garbled(draw: st.DrawFn) -> bytes:
    """A random archive truncated, with bytes overwritten, or with a central directory record repeated."""
    data = bytearray(draw(archives()))
    how = draw(st.sampled_from(["truncate", "overwrite", "repeat-record", "sizes"]))
    if how == "truncate" and data:
        del data[draw(st.integers(0, len(data) - 1)) :]
    elif how == "overwrite" and data:
        for _ in range(draw(st.integers(1, 8))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    elif how == "repeat-record" and (start := data.find(b"PK\x01\x02")) >= 0:
        # The first central directory record once more, and one more entry counted in the end record.
        end = data.rfind(b"PK\x05\x06")
        name_length, extra, comment = struct.unpack_from("<HHH", data, start + 28)
        record = data[start : start + 46 + name_length + extra + comment]
        count, total, size, offset = struct.unpack_from("<HHII", data, end + 8)
        tail = data[end:]
        struct.pack_into("<HHII", tail, 8, count + 1, total + 1, size + len(record), offset)
        data = data[:end] + record + tail
    elif how == "sizes" and (start := data.find(b"PK\x01\x02")) >= 0:
        struct.pack_into("<I", data, start + 24, draw(st.integers(0, 2**32 - 1)))  # declared uncompressed size
    return bytes(data)


def _accepted(data: bytes) -> bool:
    try:
        inspect_zip(io.BytesIO(data))
    except (InvalidArchive, InvalidManifest):
        return False
    return True


def _assert_safe(data: bytes) -> None:
    """What an accepted archive must be: one entry per unpacked path, nothing outside the archive."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = archive.infolist()
        paths = [unpacked_path(i.filename) for i in infos if unpacked_path(i.filename)]
        assert len(paths) == len(set(paths)), [i.filename for i in infos]
        for info in infos:
            assert ".." not in info.filename.split("/") and not info.filename.startswith("/"), info.filename
            if stat.S_ISLNK(info.external_attr >> 16):
                target = archive.read(info).decode("utf-8", "replace")
                level = len(unpacked_path(info.filename).split("/")) - 1  # folders above the link
                assert not target.startswith("/")
                for part in target.split("/"):
                    level += -1 if part == ".." else 0 if part in ("", ".") else 1
                    assert level >= 0, (info.filename, target)


@SETTINGS
@given(archives())
@example(b"PK\x05\x06" + b"\0" * 18)
def test_random_archives_are_accepted_only_when_safe(data: bytes) -> None:
    if _accepted(data):
        _assert_safe(data)


@SETTINGS
@given(garbled())
def test_garbled_archives_never_crash_the_checker(data: bytes) -> None:
    if _accepted(data):
        _assert_safe(data)


@SETTINGS
@given(st.binary(max_size=512).map(lambda tail: b"PK\x03\x04" + tail) | st.binary(max_size=512))
def test_arbitrary_bytes_are_refused_as_invalid_archives(data: bytes) -> None:
    assert not _accepted(data) or data.startswith(b"PK")
