"""Version normalisation must agree with Composer's VersionParser (composer/semver).

The tables were produced by running the real VersionParser (Debian's php-composer-semver) on each input;
`test_tables_match_the_installed_php_version_parser` re-runs it whenever PHP is available (always in CI).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from package_broker.composer.versions import normalize, normalize_branch, parse_stability
from package_broker.errors import InvalidVersion
from tests.conftest import require_tool

# input -> normalized (None: Composer throws "Invalid version string")
NORMALIZE = {
    "1.0.0": "1.0.0.0",
    "1.2": "1.2.0.0",
    "v1.2": "1.2.0.0",
    "v1.2.3": "1.2.3.0",
    "1.0.0.0": "1.0.0.0",
    "1.2.3.4": "1.2.3.4",
    "1.0.0-RC1": "1.0.0.0-RC1",
    "1.0.0-rc1": "1.0.0.0-RC1",
    "1.0.0RC1": "1.0.0.0-RC1",
    "1.0.0-rc.1": "1.0.0.0-RC1",
    "1.0-beta.2": "1.0.0.0-beta2",
    "1.0.0-beta": "1.0.0.0-beta",
    "1.0.0b2": "1.0.0.0-beta2",
    "1.0.0-alpha3": "1.0.0.0-alpha3",
    "1.0.0a": "1.0.0.0-alpha",
    "1.0.0-p1": "1.0.0.0-patch1",
    "1.0.0-pl2": "1.0.0.0-patch2",
    "1.0.0-patch3": "1.0.0.0-patch3",
    "1.0.0-stable": "1.0.0.0",
    "1.0.0-STABLE": "1.0.0.0-stable",
    "1.0.0-dev": "1.0.0.0-dev",
    "1.0.x-dev": "1.0.9999999.9999999-dev",
    "1.x-dev": "1.9999999.9999999.9999999-dev",
    "2.x-dev": "2.9999999.9999999.9999999-dev",
    "dev-main": "dev-main",
    "dev-feature/foo": "dev-feature/foo",
    "DEV-Master": "dev-Master",
    "master": "dev-master",
    "trunk": "dev-trunk",
    "default": "dev-default",
    "2010-01-02": "2010.01.02",
    "20100102": "20100102",
    "2010.01.02.10.20": "2010.01.02.10.20",
    "1.0.0+build.1": "1.0.0.0",
    "1.0.0@dev": "1.0.0.0",
    "1.0.0 as 2.0.0": "1.0.0.0",
    "1.0.0-beta.5+foo": "1.0.0.0-beta5",
    "v1.0.0-dev": "1.0.0.0-dev",
    "1.0-dev": "1.0.0.0-dev",
    "00.01.03.04": "00.01.03.04",
    "10000000.1": "10000000.1",
    "99999.1": "99999.1.0.0",
    "1.0.0.0.0": None,
    "invalid": None,
    "1.0.0-gamma": None,
    "": None,
    "  1.0.0  ": "1.0.0.0",
    "1.0-RC1.2": "1.0.0.0-RC1.2",
    "1.0.0-rc1-dev": "1.0.0.0-RC1-dev",
    "1.2.3.4.5": None,
    "dev-": "dev-",
    "1.0.0.RC.15-dev": "1.0.0.0-RC15-dev",
    "1.0.x": None,
    "v2.x-dev": "2.9999999.9999999.9999999-dev",
    # PCRE matches bytes: \\d is 0-9 only and /i folds A-Z only (Python's re would accept all of these).
    "\u0661.0": None,
    "1.0.0-\u017ftable": None,
    "1.0.0-\u212a": None,
    "1.0-r\u0130": None,
    "v1.0-\u0392ETA": None,
    "D\u0395V-x": None,
    "\u0131.0": None,
}

NORMALIZE_BRANCH = {
    "main": "dev-main",
    "2.x": "2.9999999.9999999.9999999-dev",
    "2.X": "2.9999999.9999999.9999999-dev",
    "1.0": "1.0.9999999.9999999-dev",
    "1.0.x": "1.0.9999999.9999999-dev",
    "v1.0": "1.0.9999999.9999999-dev",
    "v1.x": "1.9999999.9999999.9999999-dev",
    "1.*": "1.9999999.9999999.9999999-dev",
    "feature/foo": "dev-feature/foo",
    "3": "3.9999999.9999999.9999999-dev",
    "1.2.3.4": "1.2.3.4-dev",
    "release-1.0": "dev-release-1.0",
    "1.x.x": "1.9999999.9999999.9999999-dev",
    "\u0661.x": "dev-\u0661.x",
    "1.\u0661": "dev-1.\u0661",
}

STABILITY = {
    "1.0.0": "stable",
    "1.0.0-RC1": "RC",
    "1.0.0.0-RC1": "RC",
    "1.0.0-beta2": "beta",
    "1.0.0-b2": "beta",
    "1.0.0-alpha": "alpha",
    "1.0.0-dev": "dev",
    "dev-main": "dev",
    "1.0.x-dev": "dev",
    "2.9999999.9999999.9999999-dev": "dev",
    "1.0.0-patch1": "stable",
    "1.0.0.0-patch1": "stable",
    "1.0.0-p1": "stable",
    "1.0.0#abc": "stable",
    "dev-main#abc": "dev",
    "1.0.0-beta+build": "beta",
    "1.0.0-\u0130": "stable",
    "1.0.0-RC\u0661": "stable",
}

PHP_SCRIPT = r"""<?php
require '/usr/share/php/Composer/Semver/autoload.php';
use Composer\Semver\VersionParser;
$p = new VersionParser();
$in = json_decode(file_get_contents('php://stdin'), true);
$out = ['normalize' => [], 'branch' => [], 'stability' => []];
foreach ($in['normalize'] as $v) {
    try { $out['normalize'][$v] = $p->normalize($v); } catch (Exception $e) { $out['normalize'][$v] = null; }
}
foreach ($in['branch'] as $v) { $out['branch'][$v] = $p->normalizeBranch($v); }
foreach ($in['stability'] as $v) { $out['stability'][$v] = VersionParser::parseStability($v); }
echo json_encode($out);
"""


@pytest.mark.parametrize(("version", "expected"), NORMALIZE.items())
def test_normalize_matches_composer(version: str, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(InvalidVersion, match="Invalid version string"):
            normalize(version)
    else:
        assert normalize(version) == expected


@pytest.mark.parametrize(("branch", "expected"), NORMALIZE_BRANCH.items())
def test_normalize_branch_matches_composer(branch: str, expected: str) -> None:
    assert normalize_branch(branch) == expected


@pytest.mark.parametrize(("version", "expected"), STABILITY.items())
def test_parse_stability_matches_composer(version: str, expected: str) -> None:
    assert parse_stability(version) == expected


def test_tables_match_the_installed_php_version_parser(tmp_path: Path) -> None:
    php = require_tool("php")
    if not Path("/usr/share/php/Composer/Semver/autoload.php").exists():
        pytest.fail("php-composer-semver is missing (it comes with Debian's composer package)")
    script = tmp_path / "parse.php"
    script.write_text(PHP_SCRIPT)
    payload = {"normalize": list(NORMALIZE), "branch": list(NORMALIZE_BRANCH), "stability": list(STABILITY)}
    result = subprocess.run([php, str(script)], input=json.dumps(payload), capture_output=True, text=True, check=True)
    real = json.loads(result.stdout)
    assert real["normalize"] == NORMALIZE
    assert real["branch"] == NORMALIZE_BRANCH
    assert real["stability"] == STABILITY
