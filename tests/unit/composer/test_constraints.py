"""Version constraints must parse exactly as Composer's VersionParser::parseConstraints parses them.

The tables come from the real parser (Debian's php-composer-semver); `test_tables_match_the_installed_php_parser`
re-runs it whenever PHP is available (always in CI). Values are PHP's `(string)` of the parsed constraint.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from package_broker.composer.constraints import parse_constraints
from package_broker.errors import InvalidConstraint
from tests.conftest import require_tool

PARSED = {
    "^1.0": "[>= 1.0.0.0-dev < 2.0.0.0-dev]",
    "~1.2": "[>= 1.2.0.0-dev < 2.0.0.0-dev]",
    "~1.2.3": "[>= 1.2.3.0-dev < 1.3.0.0-dev]",
    "1.0.*": "[>= 1.0.0.0-dev < 1.1.0.0-dev]",
    "*": "*",
    "v*": ">= 0.0.0.0-dev",
    "*.*": ">= 0.0.0.0-dev",
    ">=1.0 <2.0": "[>= 1.0.0.0-dev < 2.0.0.0-dev]",
    ">=1.0,<2.0": "[>= 1.0.0.0-dev < 2.0.0.0-dev]",
    "1.0 - 2.0": "[>= 1.0.0.0-dev < 2.1.0.0-dev]",
    "1.0.0 - 2.1.3": "[>= 1.0.0.0-dev <= 2.1.3.0]",
    "^0.3": "[>= 0.3.0.0-dev < 0.4.0.0-dev]",
    "^0.0.3": "[>= 0.0.3.0-dev < 0.0.4.0-dev]",
    "1.0 as 2.0": "== 1.0.0.0",
    "dev-main#abc": "== dev-main",
    "1.x-dev#abc": "== 1.9999999.9999999.9999999-dev",
    "^1.0 || ^2.0": "[>= 1.0.0.0-dev < 3.0.0.0-dev]",
    "^1.0 | ^2.0": "[>= 1.0.0.0-dev < 3.0.0.0-dev]",
    ">=1,<2 || >=2,<3": "[>= 1.0.0.0-dev < 3.0.0.0-dev]",
    "foo-dev": "== dev-foo",
    "<1.0-rc1": "< 1.0.0.0-RC1-dev",
    "!=1.0": "!= 1.0.0.0",
    "<>1.0": "!= 1.0.0.0",
    "==1.0": "== 1.0.0.0",
    "=1.0": "== 1.0.0.0",
    "@dev": "*",
    "1.0@beta": "== 1.0.0.0",
    ">=1.0@beta": ">= 1.0.0.0-beta",
    "~1.0.x-dev": "[>= 1.0.9999999.9999999-dev < 1.1.0.0-dev]",
    "^2.x-dev": "[>= 2.9999999.9999999.9999999-dev < 3.0.0.0-dev]",
    "2.3.x-dev": "== 2.3.9999999.9999999-dev",
    "1 - 2": "[>= 1.0.0.0-dev < 3.0.0.0-dev]",
    "1.2 - 2.3.x-dev": "[>= 1.2.0.0-dev <= 2.3.9999999.9999999-dev]",
    "^1.0@dev": "[>= 1.0.0.0-dev < 2.0.0.0-dev]",
    ">= 1.0": ">= 1.0.0.0-dev",
    "< 2.0": "< 2.0.0.0-dev",
    "99999999999999999999.x": "[>= 99999999999999999999.0.0.0-dev < 1.0E+20.0.0.0-dev]",
    "~9223372036854775807.1": "[>= 9223372036854775807.1.9999999.9999999-dev < 9.2233720368548E+18.0.0.0-dev]",
    "^1.0 , ^2.0": "[>= 1.0.0.0-dev < 2.0.0.0-dev >= 2.0.0.0-dev < 3.0.0.0-dev]",
    "dev-feature/x": "== dev-feature/x",
    ">dev-master": "> dev-master",
    "~1": "[>= 1.0.0.0-dev < 2.0.0.0-dev]",
    "^0": "[>= 0.0.0.0-dev < 1.0.0.0-dev]",
    "^0.0": "[>= 0.0.0.0-dev < 0.1.0.0-dev]",
    "0.0.x": "< 0.1.0.0-dev",
    "00.x": "[>= 00.0.0.0-dev < 1.0.0.0-dev]",
    "v1.0": "== 1.0.0.0",
    "V1.0": "== 1.0.0.0",
    "1.0\n,2.0": "[== 1.0.0.0 == 2.0.0.0]",
    ">=1.0-beta": ">= 1.0.0.0-beta",
    ">=1.0-BETA": ">= 1.0.0.0-beta",
    "^1.0-RC1": "[>= 1.0.0.0-RC1 < 2.0.0.0-dev]",
    "1.0.0-rc1 - 2": "[>= 1.0.0.0-RC1 < 3.0.0.0-dev]",
    ">=1.0 <1.1 || >=1.1 <1.2 || >=1.2 <1.3": "[>= 1.0.0.0-dev < 1.3.0.0-dev]",
    "~1.0 || ~1.1": "[[>= 1.0.0.0-dev < 2.0.0.0-dev] || [>= 1.1.0.0-dev < 2.0.0.0-dev]]",
    "^1.0@STABLE": "[>= 1.0.0.0-dev < 2.0.0.0-dev]",
    "1.0@stable": "== 1.0.0.0",
    "x": "*",
    "X.x.*": ">= 0.0.0.0-dev",
    "1.*.*": "[>= 1.0.0.0-dev < 2.0.0.0-dev]",
    "dev-main@dev": "== dev-main",
    "1.0.0+build": "== 1.0.0.0",
    "^1.2.3+build.4": "[>= 1.2.3.0 < 2.0.0.0-dev]",
    ">=1.0 <1.1 || >=1.1 <1.3": "[>= 1.0.0.0-dev < 1.3.0.0-dev]",
    "1.0||2.0": "[== 1.0.0.0 || == 2.0.0.0]",
    "<1.0@dev": "< 1.0.0.0-dev",
    ">=dev-main": ">= dev-main",
    "~1.0-beta": "[>= 1.0.0.0-beta < 2.0.0.0-dev]",
    "^1.0.0-alpha2": "[>= 1.0.0.0-alpha2 < 2.0.0.0-dev]",
    "1.0.0 - 2.0.0-rc1": "[>= 1.0.0.0-dev <= 2.0.0.0-RC1]",
}

# constraint -> Composer's message, after "Could not parse version constraint "
REFUSED = {
    "~>1.0": '~>1.0: Invalid operator "~>", you probably meant to use the "~" operator',
    "": ': Invalid version string ""',
    " ": ': Invalid version string ""',
    "foo": 'foo: Invalid version string "foo"',
    "1.0.0.0.0": '1.0.0.0.0: Invalid version string "1.0.0.0.0"',
    "self.version": 'self.version: Invalid version string "self.version"',
    "1.0,": '1.0,: Invalid version string "1.0,"',
    ",1.0": ',1.0: Invalid version string ",1.0"',
    "1.0 || ": ': Invalid version string ""',
    "1.x.3": '1.x.3: Invalid version string "1.x.3"',
    "1.0 ||| 2.0": ': Invalid version string ""',
    "1.2.x - 2": '1.2.x - 2: Invalid version string "1.2.x - 2"',
    "\u0661.0": '\u0661.0: Invalid version string "\u0661.0"',
    "^\u0661": '^\u0661: Invalid version string "^\u0661"',
    ">=1.0 \u00a0<2.0": '\u00a0<2.0: Invalid version string "\u00a0<2.0"',
    "~1.0-\u017ftable": '~1.0-\u017ftable: Invalid version string "~1.0-\u017ftable"',
}

PREFIX = "Could not parse version constraint "

PHP_SCRIPT = r"""<?php
require '/usr/share/php/Composer/Semver/autoload.php';
$p = new Composer\Semver\VersionParser();
$out = [];
foreach (json_decode(file_get_contents('php://stdin'), true) as $c) {
    try {
        $out[] = ['ok' => (string) $p->parseConstraints($c)];
    } catch (Exception $e) {
        $out[] = ['error' => $e->getMessage()];
    }
}
echo json_encode($out);
"""


@pytest.mark.parametrize(("constraint", "expected"), PARSED.items())
def test_constraints_composer_reads(constraint: str, expected: str) -> None:
    assert str(parse_constraints(constraint)) == expected


@pytest.mark.parametrize(("constraint", "message"), REFUSED.items())
def test_constraints_composer_refuses(constraint: str, message: str) -> None:
    with pytest.raises(InvalidConstraint) as refused:
        parse_constraints(constraint)
    assert str(refused.value) == PREFIX + message


def test_tables_match_the_installed_php_parser(tmp_path: Path) -> None:
    php = require_tool("php")
    script = tmp_path / "parse.php"
    script.write_text(PHP_SCRIPT)
    inputs = [*PARSED, *REFUSED]
    result = subprocess.run([php, str(script)], input=json.dumps(inputs), capture_output=True, text=True, check=True)
    expected = [{"ok": PARSED[c]} if c in PARSED else {"error": PREFIX + REFUSED[c]} for c in inputs]
    assert json.loads(result.stdout) == expected


def test_an_invalid_alias_source_gets_composers_hint() -> None:
    """Found by tests/property: VersionParser adds a hint when the invalid part is one side of `a as b`."""
    with pytest.raises(InvalidConstraint) as refused:
        parse_constraints(">= \u06610 as 2.0.0")
    assert str(refused.value).endswith(
        'in "\u06610 as 2.0.0", the alias source must be an exact version, '
        "if it is a branch name you should prefix it with dev-"
    )
