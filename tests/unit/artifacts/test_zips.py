"""Zip inspection: every unsafe or useless archive is refused with a reason, good ones yield composer.json."""

from __future__ import annotations

import io
import struct
import zipfile
from typing import Any

import pytest

from package_broker.artifacts.zips import inspect_zip
from package_broker.errors import InvalidArchive
from tests.helpers import make_zip

MANIFEST: dict[str, Any] = {"name": "acme/lib", "version": "1.0.0"}


def inspect(data: bytes, **kwargs: Any) -> Any:
    return inspect_zip(io.BytesIO(data), **kwargs)


def test_manifest_at_the_top_level() -> None:
    info = inspect(make_zip({"composer.json": MANIFEST, "src/A.php": "<?php"}))
    assert info.manifest_path == "composer.json" and b"acme/lib" in info.manifest


def test_manifest_inside_a_single_top_directory_like_github_zipballs() -> None:
    info = inspect(make_zip({"acme-lib-abc123/composer.json": MANIFEST, "acme-lib-abc123/src/A.php": "<?php"}))
    assert info.manifest_path == "acme-lib-abc123/composer.json"


def test_sha1_and_size_are_of_the_exact_bytes() -> None:
    import hashlib

    data = make_zip({"composer.json": MANIFEST})
    info = inspect(data)
    assert info.sha1 == hashlib.sha1(data).hexdigest() and info.size == len(data)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"this is not a zip", "not a zip archive"),
        (b"", "not a zip archive"),
        (b"PK\x03\x04" + b"\0" * 40, "corrupt|cannot be read"),
        (make_zip({"README.md": "no manifest"}), "no composer.json"),
        (make_zip({"a/composer.json": MANIFEST, "b/x": "two top dirs"}), "no composer.json"),
        (make_zip({"composer.json": MANIFEST, "../evil.php": "<?php"}), "outside the archive"),
        (make_zip({"composer.json": MANIFEST, "/etc/cron.d/x": "*"}), "absolute"),
        (make_zip({"composer.json": MANIFEST, "dir\\x.php": "<?php"}), "non-portable"),
        (make_zip({"composer.json": MANIFEST}, symlinks={"link": "/etc/passwd"}), "symlink"),
        (make_zip({"composer.json": MANIFEST}, symlinks={"a/link": "../../x"}), "symlink"),
    ],
)
def test_unusable_archives_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(InvalidArchive, match=message):
        inspect(data)


def test_relative_symlinks_inside_the_archive_are_fine() -> None:
    inspect(make_zip({"composer.json": MANIFEST, "a/b.php": "<?php"}, symlinks={"a/c.php": "b.php"}))


def test_a_zip_bomb_is_refused_by_its_ratio() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("composer.json", '{"name": "acme/lib"}')
        archive.writestr("zeros.bin", b"\0" * (64 * 1024 * 1024))
    with pytest.raises(InvalidArchive, match="zip bomb"):
        inspect(buffer.getvalue())


def test_a_zip_over_the_uncompressed_limit_is_refused() -> None:
    data = make_zip({"composer.json": MANIFEST, "big.txt": "x" * 100_000})
    with pytest.raises(InvalidArchive, match="limit"):
        inspect(data, max_uncompressed=50_000)


def test_a_zip_that_lies_about_its_sizes_is_caught_while_decompressing() -> None:
    # Declare 10 bytes for an entry that really inflates to 1 MB: the CRC/size check must catch it.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("composer.json", '{"name": "acme/lib"}')
        archive.writestr("data.bin", b"a" * 1_000_000)
    data = bytearray(buffer.getvalue())
    central = data.rfind(b"PK\x01\x02")  # central directory entry of data.bin (the last one)
    struct.pack_into("<I", data, central + 24, 10)  # uncompressed size
    local = data.find(b"PK\x03\x04", 1)
    struct.pack_into("<I", data, local + 22, 10)
    with pytest.raises(InvalidArchive):
        inspect(bytes(data))


def test_encrypted_entries_are_refused() -> None:
    data = bytearray(make_zip({"composer.json": MANIFEST}))
    central = data.rfind(b"PK\x01\x02")
    struct.pack_into("<H", data, central + 8, 0x1)  # general purpose flag: encrypted
    with pytest.raises(InvalidArchive, match="encrypted"):
        inspect(bytes(data))
