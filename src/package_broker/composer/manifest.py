"""From a ref's composer.json to the version object Composer reads in `p2/<name>.json`.

We keep the fields Composer's ArrayLoader understands for a dependency (and that packagist.org serves) and
drop the rest: `scripts`, `config`, `repositories`, `minimum-stability` only matter for root packages, and
leaving them out keeps p2 files small.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .. import untrusted_json
from ..errors import InvalidManifest, InvalidName
from .names import validate_name

#: composer.json files larger than this are refused: no real manifest comes close.
MAX_MANIFEST_BYTES = 1024 * 1024

_VERSION_FIELDS = (
    "description",
    "keywords",
    "homepage",
    "readme",
    "license",
    "authors",
    "type",
    "support",
    "funding",
    "autoload",
    "autoload-dev",
    "include-path",
    "target-dir",
    "extra",
    "bin",
    "require",
    "require-dev",
    "suggest",
    "conflict",
    "provide",
    "replace",
    "php-ext",
    "archive",
    "abandoned",
)
_OBJECT_FIELDS = (
    "autoload",
    "autoload-dev",
    "extra",
    "support",
    "require",
    "require-dev",
    "suggest",
    "conflict",
    "provide",
    "replace",
    "archive",
    "php-ext",
)
_LINK_FIELDS = ("require", "require-dev", "suggest", "conflict", "provide", "replace")


def parse_manifest(raw: bytes) -> dict[str, Any]:
    """Parse composer.json bytes into a dict and check what serving it needs: JSON object, valid name.

    Raises:
        InvalidManifest: with a message that says what is wrong (and where, for JSON syntax errors).
    """
    if len(raw) > MAX_MANIFEST_BYTES:
        raise InvalidManifest(f"composer.json is larger than {MAX_MANIFEST_BYTES // 1024} KiB")
    try:
        data = untrusted_json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise InvalidManifest("composer.json is not UTF-8 text") from None
    except untrusted_json.UntrustedJsonError as exc:
        raise InvalidManifest(f"composer.json is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidManifest("composer.json must contain a JSON object")
    try:
        validate_name(data.get("name"))
    except InvalidName as exc:
        raise InvalidManifest(f"composer.json: {exc}") from None
    for field in _OBJECT_FIELDS:
        if field in data and not isinstance(data[field], dict):
            # `"require": []` is what PHP's json_encode writes for an empty map; accept it as empty.
            if data[field] == []:
                data[field] = {}
            else:
                raise InvalidManifest(f'composer.json: "{field}" must be an object')
    for field in _LINK_FIELDS:
        for target, constraint in data.get(field, {}).items():
            if not isinstance(constraint, str):
                raise InvalidManifest(f'composer.json: "{field}.{target}" must be a string constraint')
    if "version" in data and not isinstance(data["version"], str):
        raise InvalidManifest('composer.json: "version" must be a string')
    return data


def iso_time(timestamp: int) -> str:
    """Format Unix seconds the way Composer writes `time`: ISO 8601 with a UTC offset."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def version_object(
    manifest: dict[str, Any],
    *,
    version: str,
    version_normalized: str,
    reference: str,
    dist_path: str,
    shasum: str,
    time: int | None,
    source: dict[str, str] | None = None,
    default_branch: bool = False,
) -> dict[str, Any]:
    """Return the Composer version object for one ref.

    `dist_path` is relative to the broker (`/dists/...`); the served documents prefix the public base URL,
    because Composer never resolves a relative `dist.url`.
    """
    obj: dict[str, Any] = {
        "name": manifest["name"],
        "version": version,
        "version_normalized": version_normalized,
    }
    for field in _VERSION_FIELDS:
        value = manifest.get(field)
        if value is not None and value != "" and value != [] and value != {}:
            obj[field] = value
    if source is not None:
        obj["source"] = {**source, "reference": reference}
    obj["dist"] = {"type": "zip", "url": dist_path, "reference": reference, "shasum": shasum}
    manifest_time = manifest.get("time")
    if isinstance(manifest_time, str) and manifest_time:
        obj["time"] = manifest_time
    elif time is not None:
        obj["time"] = iso_time(time)
    if default_branch:
        obj["default-branch"] = True
    return obj
