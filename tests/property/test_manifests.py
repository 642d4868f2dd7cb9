"""composer.json documents, generated, through both of Composer's loaders.

Composer's VCS repository loads a ref's composer.json with `ArrayLoader::load`; through the broker it
loads the version object we serve with `ArrayLoader::loadPackages`. For any document:

* if Composer's VCS repository skips the ref (an exception), the broker refuses it too;
* whatever the broker serves loads (it never breaks the other versions of the package), and it loads
  as the same package Composer's VCS repository makes of the document (as composer.lock would hold it);
* if the VCS repository loads the ref, the broker serves it, unless Composer could not load it from any
  Composer repository (a link to a package named "0" or "5": see manifest.py).
"""

from __future__ import annotations

import re
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from package_broker.composer import php as php_rules
from package_broker.composer.manifest import encode_version, version_object
from package_broker.errors import InvalidConstraint, InvalidManifest
from tests.property.conftest import Php
from tests.property.strategies import composer_json_values, constraints

SOURCE = {"type": "git", "url": "https://git.example/acme/lib.git", "reference": "a" * 40}
AUTHOR_TIME = 1_600_000_000
FIELDS = [
    "require",
    "require-dev",
    "conflict",
    "provide",
    "replace",
    "suggest",
    "extra",
    "autoload",
    "autoload-dev",
    "include-path",
    "support",
    "type",
    "target-dir",
    "description",
    "homepage",
    "keywords",
    "authors",
    "funding",
    "license",
    "bin",
    "abandoned",
    "archive",
    "time",
]
links = st.dictionaries(st.sampled_from(["php", "acme/x", "acme/y"]), constraints(), max_size=3)
documents = st.dictionaries(
    st.sampled_from(FIELDS), st.one_of(composer_json_values(), links, st.sampled_from(["", "0", [], {}])), max_size=6
)


def as_vcs_repository_loads_it(manifest: dict[str, Any]) -> dict[str, Any]:
    """What VcsRepository hands ArrayLoader::load for a tag `1.0.0` (GitDriver adds the author date)."""
    data = {**manifest, "name": "acme/lib", "version": "1.0.0", "version_normalized": "1.0.0.0", "source": SOURCE}
    if php_rules.empty(manifest.get("time")):
        data["time"] = "2020-09-13T12:26:40+00:00"
    return data


def numeric_link(manifest: dict[str, Any]) -> bool:
    return any(
        isinstance(manifest.get(field), dict) and any(re.fullmatch(r"0|-?[1-9][0-9]*", str(k)) for k in manifest[field])
        for field in ("require", "require-dev", "conflict", "provide", "replace")
    )


@given(documents)
def test_what_we_serve_loads_as_composers_vcs_repository_loads_it(php: Php, manifest: dict[str, Any]) -> None:
    try:
        served = encode_version(
            version_object(
                manifest,
                name="acme/lib",
                version="1.0.0",
                version_normalized="1.0.0.0",
                reference=SOURCE["reference"],
                dist_path="/dists/acme/lib/x.zip",
                shasum="",
                time=AUTHOR_TIME,
                source={"type": "git", "url": SOURCE["url"]},
            )
        )
    except (InvalidManifest, InvalidConstraint):
        served = None
    answer = php.call("load", {"manifest": as_vcs_repository_loads_it(manifest), "served": served})
    vcs, p2 = answer["vcs"], answer["p2"]
    if "error" in vcs and not vcs["fatal"]:
        assert served is None, f"Composer skips this ref ({vcs['error']}); we served {served}"
    if served is None:
        assert "error" in vcs or numeric_link(manifest), f"Composer loads this ref: {vcs}"
        return
    assert "ok" in p2, f"what we serve breaks the package in Composer: {p2}"
    [package] = p2["ok"]
    del package["dist"]
    if "ok" in vcs:
        assert package == vcs["ok"]
