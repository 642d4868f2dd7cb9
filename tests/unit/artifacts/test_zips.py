"""Zip inspection: every unsafe or useless archive is refused with a reason, good ones yield composer.json."""

from __future__ import annotations

import io
import json
import os
import stat
import struct
import warnings
import zipfile
from typing import Any

import pytest

from package_broker.artifacts.zips import inspect_zip
from package_broker.errors import InvalidArchive, InvalidManifest
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


def raw_zip(entries: list[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip with exactly these entries in this order, the same name twice included (zipfile warns)."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Duplicate name"
        with zipfile.ZipFile(buffer, "w", method) as archive:
            for name, content in entries:
                archive.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), content, method)
    return buffer.getvalue()


GOOD = json.dumps(MANIFEST).encode()
EVIL = json.dumps({**MANIFEST, "autoload": {"files": ["evil.php"]}}).encode()


@pytest.mark.parametrize(
    "names",
    [
        ("composer.json", "composer.json"),  # the same name twice in the central directory
        ("src/A.php", "src//A.php"),
        ("src/A.php", "./src/A.php"),
        ("src/A.php", "src/./A.php"),
        ("src/A.php", "SRC/a.PHP"),  # one file on a case-insensitive disk (macOS, Windows)
        ("caf\u00e9.php", "cafe\u0301.php"),  # NFC and NFD: one file on macOS
        ("src/", "src/"),
    ],
)
def test_two_entries_on_one_unpacked_path_are_refused(names: tuple[str, str]) -> None:
    first, second = names
    entries = [(first, GOOD if first.endswith(".json") else b"<?php"), (second, EVIL)]
    if "composer.json" not in names:
        entries.insert(0, ("composer.json", GOOD))
    with pytest.raises(InvalidArchive, match="same file once unpacked"):
        inspect(raw_zip(entries))


def test_a_duplicated_composer_json_cannot_smuggle_other_metadata() -> None:
    """The finding: metadata came from one composer.json, the client installed the other."""
    for entries in (
        [("composer.json", GOOD), ("composer.json", EVIL)],
        [("composer.json", EVIL), ("composer.json", GOOD)],
    ):
        with pytest.raises(InvalidArchive, match="same file"):
            inspect(raw_zip([*entries, ("evil.php", b"<?php system('id');")]))


@pytest.mark.parametrize(
    "entries",
    [
        [("src", b"a file"), ("src/A.php", b"<?php")],
        [("src/A.php", b"<?php"), ("SRC", b"a file")],
        [("lib/x/", b""), ("lib", b"a file")],
    ],
)
def test_a_path_that_is_both_a_file_and_a_folder_is_refused(entries: list[tuple[str, bytes]]) -> None:
    with pytest.raises(InvalidArchive, match="uses it as a folder"):
        inspect(raw_zip([("composer.json", GOOD), *entries]))


def test_a_symlink_used_as_a_folder_is_refused() -> None:
    data = make_zip({"composer.json": MANIFEST, "link/x.php": "<?php"}, symlinks={"link": "src"})
    with pytest.raises(InvalidArchive, match="uses it as a folder"):
        inspect(data)


@pytest.mark.parametrize(
    "symlinks",
    [
        {"./link": "../x"},  # one level deep by its name, at the top once unpacked
        {"a//b//link": "../../../x"},
        {"d/up": "..", "link": "d/up/../x"},  # through another symlink
        {"link": "C:/Windows"},
    ],
)
def test_symlinks_escaping_through_odd_names_or_other_links_are_refused(symlinks: dict[str, str]) -> None:
    with pytest.raises(InvalidArchive, match="symlink"):
        inspect(make_zip({"composer.json": MANIFEST, "d/x.php": "<?php"}, symlinks=symlinks))


def test_a_link_to_a_link_inside_the_archive_is_fine() -> None:
    inspect(make_zip({"composer.json": MANIFEST, "src/a.php": "<?php"}, symlinks={"b": "src/a.php", "c": "b"}))


def test_a_huge_symlink_entry_is_refused_without_reading_it_whole() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("composer.json", GOOD)
        info = zipfile.ZipInfo("link")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, b"a/" * (512 * 1024), zipfile.ZIP_DEFLATED)
    with pytest.raises(InvalidArchive, match="symlink without a usable target"):
        inspect(buffer.getvalue())


def test_a_composer_json_larger_than_a_manifest_can_be_is_refused_before_reading() -> None:
    big = b'{"name": "acme/lib", "x": "' + b" " * (2 * 1024 * 1024) + b'"}'
    with pytest.raises(InvalidManifest, match="larger than"):
        inspect(raw_zip([("composer.json", big)], method=zipfile.ZIP_STORED))


def test_many_small_bombs_are_refused_by_the_whole_archive_ratio() -> None:
    """The finding: 900 entries of 1 MiB of zeros (each just under the per-entry check) in a 1 MB archive.
    Here 100 of them: 100 MiB from about 100 KB."""
    entries = [("composer.json", GOOD)] + [(f"zeros/{i}.bin", b"\0" * (1024 * 1024)) for i in range(100)]
    data = raw_zip(entries)
    assert len(data) < 200_000
    with pytest.raises(InvalidArchive, match=r"expands \d+x.*at most 50x"):
        inspect(data)


def test_a_large_archive_of_ordinary_ratio_is_fine() -> None:
    # 70 MiB of text-like data compressing ~10x: past the floor, within the total ratio.
    line = b"".join(b"%08d: <?php echo 'ordinary line of code';\n" % i for i in range(4096))
    entries = [("composer.json", GOOD)] + [(f"src/{i}.php", line + os.urandom(18_000)) for i in range(400)]
    info = inspect(raw_zip(entries))
    assert info.entries == 401


def test_only_stored_and_deflated_entries_are_accepted() -> None:
    with pytest.raises(InvalidArchive, match="compression method 12"):
        inspect(raw_zip([("composer.json", GOOD)], method=zipfile.ZIP_BZIP2))
    inspect(raw_zip([("composer.json", GOOD)], method=zipfile.ZIP_STORED))
