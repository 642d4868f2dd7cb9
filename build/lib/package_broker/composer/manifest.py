"""From a ref's composer.json to the version object Composer reads in `p2/<name>.json`.

Composer's VCS repository builds a package from composer.json with `ArrayLoader::load`; from our p2 file
it builds one with `ArrayLoader::loadPackages`, which trusts its input more. The version object is what
makes the second give the first's package, field by field:

* A link field (`require`, ...) that is not an object, and a link whose constraint is not a string, are
  ignored by `load` but would break `loadPackages` (and so every version of the package): dropped. A
  constraint Composer cannot parse makes it skip the ref: InvalidConstraint, with Composer's message. A
  link to a numeric name (`"0"`, which PHP turns into an integer key the p2 loader cannot read) refuses it.
* `keywords` holding an array makes Composer skip the ref (its strval() warns): so do we.
* Fields Composer reads only when non-empty (`description`, `license`, ...) are dropped when empty;
  `type` and `abandoned` are kept as they are (`""` is a type, `"abandoned": ""` abandons).
* A field whose wrong type makes Composer crash rather than skip the ref (a TypeError: a string
  `autoload`, a number `type`) refuses the ref: served, it would break every install of the package.
* `time` is composer.json's when it is not PHP-empty, else the commit's author date (as Composer's
  git driver reports it).

Root-only fields (`scripts`, `config`, `repositories`, `minimum-stability`) are left out, as packagist.org
leaves them out.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from ..errors import InvalidManifest
from . import php
from .constraints import parse_constraints
from .phpjson import decode

#: composer.json files larger than this are refused: no real manifest comes close.
MAX_MANIFEST_BYTES = 1024 * 1024

_PHP_INT_KEY = re.compile(r"^(?:0|-?[1-9][0-9]*)$")
_LINKS = ("require", "require-dev", "conflict", "provide", "replace")
#: Read only when they are arrays; anything else is ignored.
_OPTIONAL_MAPS = ("suggest", "extra", "archive", "php-ext")
#: Passed to setters typed `array`: anything else is a TypeError in Composer.
_ARRAYS = ("autoload", "autoload-dev", "include-path", "support")
#: Passed to setters typed `string`.
_STRINGS = ("type", "target-dir")
#: Read only when non-empty (and of the right type).
_NON_EMPTY: dict[str, type | tuple[type, ...]] = {
    "description": str,
    "homepage": str,
    "readme": str,
    "keywords": (list, dict),
    "authors": (list, dict),
    "funding": (list, dict),
    "license": object,
}
#: Served in this order, after name and versions (as packagist.org orders them).
_ORDER = (
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


def parse_manifest(raw: bytes) -> dict[str, Any]:
    """Decode composer.json bytes as Composer does (see phpjson.py); a JSON list becomes an index-keyed dict,
    as it is a PHP array.

    Raises:
        InvalidManifest: where Composer would find no usable composer.json, with the reason.
    """
    if len(raw) > MAX_MANIFEST_BYTES:
        raise InvalidManifest(f"composer.json is larger than {MAX_MANIFEST_BYTES // 1024} KiB")
    if not raw.strip(php.TRIM.encode()) or raw.strip(php.TRIM.encode()) == b"0":
        raise InvalidManifest("composer.json is empty")  # PHP's !trim($content): "0" counts as empty
    data = decode(raw)
    if isinstance(data, list):
        data = {str(index): value for index, value in enumerate(data)}
    if not isinstance(data, dict):
        raise InvalidManifest("composer.json must contain a JSON object")
    if not data:
        raise InvalidManifest("composer.json is an empty object")
    return data


def iso_time(timestamp: int) -> str:
    """Format Unix seconds the way Composer writes `time`: ISO 8601 with a UTC offset."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def version_object(
    manifest: dict[str, Any],
    *,
    name: str,
    version: str,
    version_normalized: str,
    reference: str,
    dist_path: str,
    shasum: str,
    time: int | None,
    source: dict[str, str] | None = None,
    default_branch: bool = False,
) -> dict[str, Any]:
    """Return the Composer version object for one ref, served as package `name`.

    `dist_path` is relative to the broker (`/dists/...`); the served documents prefix the public base URL,
    because Composer never resolves a relative `dist.url`.

    Raises:
        InvalidConstraint: a link constraint Composer cannot parse (Composer skips the ref).
        InvalidManifest: a field whose type would crash Composer.
    """
    fields = _fields(manifest, version)
    obj: dict[str, Any] = {"name": name, "version": version, "version_normalized": version_normalized}
    obj.update((key, fields[key]) for key in _ORDER if key in fields)
    if source is not None:
        obj["source"] = {**source, "reference": reference}
    obj["dist"] = {"type": "zip", "url": dist_path, "reference": reference, "shasum": shasum}
    manifest_time = manifest.get("time")
    if not php.empty(manifest_time):
        if not isinstance(manifest_time, str):
            raise InvalidManifest('composer.json: "time" must be a string')
        obj["time"] = manifest_time
    elif time is not None:
        obj["time"] = iso_time(time)
    if default_branch:
        obj["default-branch"] = True
    return obj


def encode_version(obj: dict[str, Any]) -> str:
    """The JSON of a version object, as stored.

    Raises:
        InvalidManifest: a number PHP reads as infinity (`1e400`), which JSON cannot carry.
    """
    try:
        return json.dumps(obj, ensure_ascii=False, allow_nan=False)
    except ValueError:
        raise InvalidManifest("composer.json has a number too large for JSON (PHP reads it as infinity)") from None


def check_links(data: dict[str, Any], version: str) -> None:
    """Raise as Composer's loader would on a version's link fields (a constraint it cannot parse, a link to a
    number): a mirrored version like that would make Composer fail on the whole package.

    Raises:
        InvalidManifest, InvalidConstraint: the reason, for the sync's report.
    """
    for key in _LINKS:
        _links(data.get(key), version, key)


def _fields(manifest: dict[str, Any], version: str) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for key in _LINKS:
        if links := _links(manifest.get(key), version, key):
            fields[key] = links
    for key in _OPTIONAL_MAPS:
        if isinstance(value := manifest.get(key), (dict, list)) and value:
            fields[key] = value
    if "suggest" in fields:
        # Composer trim()s each reason: anything but a string would crash it.
        fields["suggest"] = {k: v for k, v in _as_map(fields["suggest"]).items() if isinstance(v, str)}
    for key, kinds in _NON_EMPTY.items():
        if not php.empty(value := manifest.get(key)) and isinstance(value, kinds):
            fields[key] = value
    for key in _ARRAYS + _STRINGS:
        if (value := manifest.get(key)) is not None:
            text = key in _STRINGS
            if not isinstance(value, str if text else (dict, list)):
                raise InvalidManifest(f'composer.json: "{key}" must be {"a string" if text else "an object"}')
            fields[key] = value
    if any(isinstance(word, (list, dict)) for word in _as_map(fields.get("keywords")).values()):
        raise InvalidManifest('composer.json: "keywords" must be a list of words')  # PHP: Array to string conversion
    if (abandoned := manifest.get("abandoned")) is not None:
        fields["abandoned"] = abandoned
    if (bin_ := manifest.get("bin")) is not None:
        if not all(isinstance(b, str) for b in (_as_map(bin_).values() if isinstance(bin_, (list, dict)) else [bin_])):
            raise InvalidManifest('composer.json: "bin" must be a path or a list of paths')
        fields["bin"] = bin_
    return {k: v for k, v in fields.items() if v not in ({}, []) or k in ("type", "abandoned")}


def _as_map(value: object) -> dict[str, Any]:
    """A JSON object, or a list as the index-keyed PHP array it decodes to; anything else is empty."""
    if isinstance(value, list):
        return {str(index): item for index, item in enumerate(value)}
    return value if isinstance(value, dict) else {}


def _links(value: object, version: str, field: str) -> dict[str, str]:
    """A link field as Composer's ArrayLoader::load reads it; raises InvalidConstraint like it does."""
    links = {target: constraint for target, constraint in _as_map(value).items() if isinstance(constraint, str)}
    for target in links:
        if _PHP_INT_KEY.match(target) and -(2**63) <= int(target) < 2**63:
            # PHP makes "0" an integer key, and the p2 loader's strtolower() then throws a TypeError: the whole
            # package would fail to load. Through a VCS repository this is a link to a package named "0",
            # which no package can satisfy.
            raise InvalidManifest(f'composer.json: "{field}" links to "{target}", which is not a package name')
    for constraint in links.values():
        parse_constraints(version if constraint == "self.version" else constraint)
    return links
