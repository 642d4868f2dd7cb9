"""Publishing zips over HTTP: good uploads, every kind of bad one (refused, nothing stored), and a 50 MB
archive that streams in and out of the server with bounded memory."""

from __future__ import annotations

import hashlib
import io
import json
import os
import warnings
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import BrokerServer, basic
from tests.helpers import make_zip, zip_of_copies

MANIFEST: dict[str, Any] = {"name": "acme/upload", "description": "uploaded", "version": "1.0.0"}


def upload(server: BrokerServer, data: bytes | Any, secret: str, query: str = "", **headers: str) -> httpx.Response:
    return httpx.post(
        f"{server.url}/api/artifacts{query}",
        content=data,
        headers={**basic(secret), "content-type": "application/zip", **headers},
        timeout=120,
    )


def stored_files(server: BrokerServer) -> list[str]:
    root = server.data_dir / "artifacts"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_a_zip_is_published_and_installable_metadata_appears(server: BrokerServer) -> None:
    writer = server.token("write")
    data = make_zip({"composer.json": MANIFEST, "src/A.php": "<?php"})
    response = upload(server, data, writer)
    assert response.status_code == 201
    body = response.json()
    assert (body["name"], body["version"], body["shasum"]) == ("acme/upload", "1.0.0", hashlib.sha1(data).hexdigest())
    again = upload(server, data, writer)
    assert again.status_code == 200 and again.json()["changed"] is False
    p2 = httpx.get(f"{server.url}/p2/acme/upload.json", headers=basic(writer)).json()
    assert p2["packages"]["acme/upload"][0]["dist"]["shasum"] == hashlib.sha1(data).hexdigest()


def test_the_same_version_with_other_bytes_is_a_conflict_unless_replaced(server: BrokerServer) -> None:
    writer = server.token("write")
    assert upload(server, make_zip({"composer.json": MANIFEST, "a": "1"}), writer).status_code == 201
    second = make_zip({"composer.json": MANIFEST, "a": "2"})
    conflict = upload(server, second, writer)
    assert conflict.status_code == 409 and "already published" in conflict.json()["warning"]
    assert upload(server, second, writer, "?replace=1").status_code == 201


def test_readonly_tokens_cannot_publish(server: BrokerServer) -> None:
    response = upload(server, make_zip({"composer.json": MANIFEST}), server.token("readonly"))
    assert response.status_code == 403 and "readonly" in response.json()["warning"]


def _duplicated_manifest() -> bytes:
    """Two composer.json entries: the broker must not read one while Composer installs the other."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile's "Duplicate name"
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("composer.json", json.dumps({**MANIFEST, "autoload": {"files": ["evil.php"]}}))
            archive.writestr("composer.json", json.dumps(MANIFEST))
            archive.writestr("evil.php", "<?php system('id');")
    return buffer.getvalue()


BAD_UPLOADS = {
    "not a zip": (b"hello, I am text", 422, "not a zip archive"),
    "no composer.json": (make_zip({"README": "x"}), 422, "no composer.json"),
    "broken composer.json": (make_zip({"composer.json": "{nope"}), 400, "not valid JSON"),
    "no name": (make_zip({"composer.json": {"version": "1.0.0"}}), 400, 'needs a "name"'),
    "traversal name": (make_zip({"composer.json": {"name": "../../etc", "version": "1.0.0"}}), 400, "invalid"),
    "encoded slash name": (make_zip({"composer.json": {"name": "acme%2Fx/y", "version": "1.0.0"}}), 400, "invalid"),
    "uppercase name": (make_zip({"composer.json": {"name": "Acme/Upload", "version": "1.0.0"}}), 400, "acme/upload"),
    "entry escaping": (make_zip({"composer.json": MANIFEST, "../../x.php": "<?php"}), 422, "outside the archive"),
    "no version": (make_zip({"composer.json": {"name": "acme/upload"}}), 400, "no version given"),
    "bad version": (make_zip({"composer.json": {"name": "acme/upload", "version": "latest"}}), 400, "Invalid version"),
    "empty body": (b"", 400, "empty"),
    "composer.json twice": (_duplicated_manifest(), 422, "same file once unpacked"),
    "900 entries of 1 MiB in 1 MB": (zip_of_copies(MANIFEST, b"\0" * (1024 * 1024), 900), 422, "zip bomb"),
}


@pytest.mark.parametrize("case", BAD_UPLOADS)
def test_bad_uploads_are_refused_and_store_nothing(server: BrokerServer, case: str) -> None:
    writer = server.token("write")
    good = make_zip({"composer.json": {**MANIFEST, "name": "acme/kept"}})
    assert upload(server, good, writer).status_code == 201
    before_files = stored_files(server)
    before_root = httpx.get(f"{server.url}/packages.json", headers=basic(writer)).json()
    data, status, message = BAD_UPLOADS[case]
    response = upload(server, data, writer)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert message in response.json()["warning"]
    assert stored_files(server) == before_files
    assert httpx.get(f"{server.url}/packages.json", headers=basic(writer)).json() == before_root
    assert httpx.get(f"{server.url}/p2/acme/kept.json", headers=basic(writer)).status_code == 200


def test_a_zip_bomb_is_refused(server: BrokerServer) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("composer.json", '{"name": "acme/bomb", "version": "1.0.0"}')
        archive.writestr("zeros.bin", b"\0" * (100 * 1024 * 1024))
    response = upload(server, buffer.getvalue(), server.token("write"))
    assert response.status_code == 422 and "zip bomb" in response.json()["warning"]
    assert stored_files(server) == []


def test_multipart_uploads_get_a_hint(server: BrokerServer) -> None:
    response = httpx.post(
        f"{server.url}/api/artifacts",
        files={"file": ("pkg.zip", make_zip({"composer.json": MANIFEST}))},
        headers=basic(server.token("write")),
    )
    assert response.status_code == 415 and "--data-binary" in response.json()["warning"]


def test_oversized_uploads_are_refused_before_and_while_reading(server_factory: Any) -> None:
    small = server_factory("small", MAX_UPLOAD_BYTES="4096")
    writer = small.token("write")
    big = make_zip({"composer.json": MANIFEST, "data.bin": os.urandom(8192)})
    declared = upload(small, big, writer)
    assert declared.status_code == 413 and "MAX_UPLOAD_BYTES" in declared.json()["warning"]

    def chunked() -> Any:  # no Content-Length: the limit must hold while streaming
        for start in range(0, len(big), 1024):
            yield big[start : start + 1024]

    streamed = upload(small, chunked(), writer)
    assert streamed.status_code == 413
    assert stored_files(small) == []


def _big_zip(path: Path, size: int) -> None:
    """A real zip with `size` bytes of incompressible data, written in chunks (never whole in memory)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("composer.json", '{"name": "acme/big", "version": "1.0.0"}')
        with archive.open("data.bin", "w", force_zip64=True) as entry:
            for _ in range(size // (1024 * 1024)):
                entry.write(os.urandom(1024 * 1024))


def _reset_peak_rss(server: BrokerServer) -> int:
    """Reset the kernel's peak-RSS counter of the server processes; return the current RSS in KiB."""
    from tests.conftest import _descendants

    assert server.process is not None
    current = 0
    for pid in _descendants(server.process.pid):
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                current = max(current, int(line.split()[1]))
    return current


def test_a_50_mb_archive_streams_with_bounded_memory(server: BrokerServer, tmp_path: Path) -> None:
    writer = server.token("write")
    archive = tmp_path / "big.zip"
    _big_zip(archive, 50 * 1024 * 1024)
    digest = hashlib.sha1(archive.read_bytes()).hexdigest()

    def stream_file() -> Any:
        with archive.open("rb") as file:
            while chunk := file.read(256 * 1024):
                yield chunk

    baseline = _reset_peak_rss(server)
    response = upload(server, stream_file(), writer)
    assert response.status_code == 201, response.text
    upload_growth_mib = (server.process_tree_rss_kib() - baseline) / 1024
    assert upload_growth_mib < 40, f"upload raised peak RSS by {upload_growth_mib:.0f} MiB"

    baseline = _reset_peak_rss(server)
    sha1 = hashlib.sha1()
    received = 0
    with httpx.stream(
        "GET",
        f"{server.url}{response.json()['dist_url'].split(str(server.port), 1)[1]}",
        headers=basic(writer),
        timeout=120,
    ) as download:
        assert download.status_code == 200
        assert int(download.headers["content-length"]) == archive.stat().st_size
        for chunk in download.iter_raw():
            sha1.update(chunk)
            received += len(chunk)
    assert received == archive.stat().st_size and sha1.hexdigest() == digest
    download_growth_mib = (server.process_tree_rss_kib() - baseline) / 1024
    assert download_growth_mib < 20, f"download raised peak RSS by {download_growth_mib:.0f} MiB"
