"""Asking a mirror's upstream for advisories: packagist.org's `api/security-advisories/` (what its
packages.json names as `security-advisories.api-url`), one POST for up to UPSTREAM_BATCH names."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from .. import untrusted_json
from ..errors import SourceError
from ..ports import HttpClient
from ..ports.http_client import MAX_METADATA_BYTES, Guard
from .store import clean

#: Names asked in one upstream request (Composer itself sends up to 500).
UPSTREAM_BATCH = 500
#: Seconds one upstream advisories request may take.
UPSTREAM_SECONDS = 10.0
#: Advisories kept per package from one answer.
_PER_PACKAGE = 500


async def fetch_advisories(
    http: HttpClient, api_url: str, names: Sequence[str], guard: Guard
) -> dict[str, list[dict[str, Any]]]:
    """What the upstream knows about `names` (names it does not mention have none). Names it was not asked
    about are ignored, as are advisories without an id or affected versions.

    Raises:
        SourceError: the upstream failed or did not answer JSON in the API's shape.
    """
    body = urlencode([("packages[]", name) for name in names]).encode("ascii")
    response = await http.request(
        "POST",
        api_url,
        headers={"content-type": "application/x-www-form-urlencoded", "accept": "application/json"},
        body=body,
        timeout=UPSTREAM_SECONDS,
        max_bytes=MAX_METADATA_BYTES,
        guard=guard,
    )
    if response.status != 200:
        raise SourceError(f"the upstream's advisories API answered HTTP {response.status}")
    try:
        data = untrusted_json.loads(response.body)
    except ValueError:
        raise SourceError("the upstream's advisories API did not answer JSON") from None
    listed = data.get("advisories") if isinstance(data, dict) else None
    if isinstance(listed, list) and not listed:
        listed = {}  # PHP encodes an empty map as []
    if not isinstance(listed, dict):
        raise SourceError("the upstream's advisories API answered without an `advisories` map")
    wanted = set(names)
    found: dict[str, list[dict[str, Any]]] = {}
    for name, advisories in listed.items():
        if name not in wanted or not isinstance(advisories, list):
            continue
        kept = [a for a in (clean(item, name) for item in advisories[:_PER_PACKAGE]) if a is not None]
        if kept:
            found[name] = kept
    return found
