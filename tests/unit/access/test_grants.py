"""What a token may see (`Token.may_see`, the one check), how grants are validated, and the token format
as the README documents it for secret scanners."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from package_broker.access import tokens
from package_broker.access.grants import newest_versions, requirements
from package_broker.access.store import Token, prepare_token, validate_packages, validate_prefixes
from package_broker.catalog.store import VersionRow
from package_broker.errors import InvalidInput

README = (Path(__file__).resolve().parents[3] / "README.md").read_text()


def token(prefixes: list[str] | None = None, names: list[str] | None = None) -> Token:
    return Token("tok_1", "t", "pkb_abcd", "readonly", prefixes, None, None, None, None, 1, 1, names)


@pytest.mark.parametrize(
    ("name", "prefixes", "names", "visible"),
    [
        ("acme/lib", None, None, True),
        ("acme/lib", [], None, False),
        ("acme/lib", None, [], False),
        ("acme/lib", ["acme/"], None, True),
        ("acmecorp/lib", ["acme/"], None, False),
        ("acme/lib-http", ["acme/lib-*"], None, True),
        ("acme/lab", ["acme/lib-*"], None, False),
        ("other/x", ["acme/", "other/x"], None, True),
        ("acme/lib", None, ["acme/lib"], True),
        ("acme/lib-http", None, ["acme/lib"], False),  # a name grant is exact, not a prefix
        ("acme/li", None, ["acme/lib"], False),
        ("globex/tool", ["acme/"], ["globex/tool"], True),  # the union
        ("acme/x", ["acme/"], ["globex/tool"], True),
        ("globex/other", ["acme/"], ["globex/tool"], False),
    ],
)
def test_may_see(name: str, prefixes: list[str] | None, names: list[str] | None, visible: bool) -> None:
    assert token(prefixes, names).may_see(name) is visible


def test_scope_key_is_equal_for_equal_grants_only() -> None:
    assert token().scope_key == token().scope_key
    assert token(["acme/lib-*"], ["x/y"]).scope_key == token(["acme/lib-"], ["x/y"]).scope_key
    keys = {token().scope_key, token([]).scope_key, token(["acme/"]).scope_key, token(None, ["acme/"]).scope_key}
    assert len(keys) == 4


def test_a_token_read_back_from_a_row_keeps_its_grants() -> None:
    made, _, [insert, _bump] = prepare_token(1, "ci", allowed_package_prefixes=["acme/"], allowed_packages=["x/y"])
    sql, params = insert
    columns = [c.strip() for c in sql[sql.index("(") + 1 : sql.index(")")].split(",")]
    row: dict[str, Any] = dict(zip(columns, params, strict=True))
    del row["token_hash"]
    again = Token.from_row(row)
    assert again == made and again.may_see("x/y") and again.may_see("acme/z") and not again.may_see("x/z")


@pytest.mark.parametrize("bare", ["acme", "acme*", "acme-", "*"])
def test_a_prefix_without_the_vendor_slash_is_refused_with_what_to_use(bare: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        validate_prefixes([bare])
    message = str(refused.value)
    assert "corp/" in message and "/ for every" in message and "/plugin-" in message


def test_prefixes_with_a_slash_are_kept() -> None:
    assert validate_prefixes(["acme/", "acme/plugin-", "acme/lib-*"]) == ["acme/", "acme/plugin-", "acme/lib-*"]


@pytest.mark.parametrize(("bad", "hint"), [("acme", "invalid package name"), ("acme/*", "--allow-prefix")])
def test_package_grants_must_be_exact_valid_names(bad: str, hint: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(hint)):
        validate_packages([bad])
    assert validate_packages(["acme/lib", " acme/lib "]) == ["acme/lib"]


@pytest.mark.parametrize("limit", [-1, 10**12])
def test_a_rate_limit_is_zero_or_positive(limit: int) -> None:
    with pytest.raises(InvalidInput, match="0 \\(unlimited\\)"):
        prepare_token(1, "ci", rate_limit=limit)


def _row(version: str, *, dev: bool = False, require: dict[str, str] | None = None) -> VersionRow:
    data = json.dumps({"version": version, "require": require or {}})
    return VersionRow(version, version, dev, "ref", data)


def test_requirements_are_read_from_the_newest_tag_without_platform_packages() -> None:
    rows = [
        _row("1.0.0.0", require={"acme/old": "^1"}),
        _row("2.0.0.0", require={"php": ">=8.1", "ext-json": "*", "lib-icu": "*", "Acme/Core": "^1"}),
        _row("2.0.0.0-beta1", require={"acme/beta": "^1"}),
        _row("dev-main", dev=True, require={"acme/dev": "^1"}),
    ]
    [newest] = newest_versions(rows)
    assert requirements(newest) == {"acme/core"}
    assert newest_versions([rows[-1]]) == [rows[-1]]  # only branches: they count


# -- the token format, as the README documents it for secret scanners ------------------------------


def _readme_recipe() -> tuple[re.Pattern[str], Any]:
    section = README[README.index("### Token format (for secret scanners)") :]
    pattern = re.search(r"```text\n(.+?)\n```", section, re.DOTALL)
    code = re.search(r"```python\n(.+?)```", section, re.DOTALL)
    assert pattern is not None and code is not None
    namespace: dict[str, Any] = {}
    exec(code[1], namespace)  # the README's own recipe, run as a scanner would copy it
    return re.compile(pattern[1]), namespace["is_pkb_token"]


def test_the_documented_pattern_and_checksum_match_generated_tokens() -> None:
    pattern, is_pkb_token = _readme_recipe()
    assert pattern.pattern == r"\bpkb_[0-9A-Za-z]{42}\b"
    for _ in range(200):
        secret = tokens.generate()
        assert pattern.fullmatch(secret) and is_pkb_token(secret)
        assert pattern.findall(f"password: {secret}, next") == [secret]
        broken = secret[:-1] + ("a" if secret[-1] != "a" else "b")
        assert not is_pkb_token(broken) and not tokens.is_well_formed(broken)


def test_the_documented_checksum_agrees_with_the_broker_on_random_strings() -> None:
    _, is_pkb_token = _readme_recipe()
    import random

    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    chooser = random.Random(7)
    for _ in range(500):
        candidate = "pkb_" + "".join(chooser.choice(alphabet) for _ in range(42))
        assert is_pkb_token(candidate) is tokens.is_well_formed(candidate)
    assert not is_pkb_token("ghp_" + "a" * 42) and not is_pkb_token("pkb_" + "a" * 41)


async def test_a_wrong_checksum_is_refused_before_any_look_up() -> None:
    from package_broker.access.auth import AuthError, authenticate

    class NoLookups:
        def remembered(self, authorization: str) -> None:
            return None

        async def lookup(self, secret: str) -> None:
            raise AssertionError("a malformed token must not be looked up")

        def remember(self, authorization: str, found: object) -> None:
            raise AssertionError("a malformed token must not be remembered")

    secret = tokens.generate()
    broken = secret[:-1] + ("a" if secret[-1] != "a" else "b")
    with pytest.raises(AuthError) as refused:
        await authenticate(f"Bearer {broken}", "r.test", NoLookups(), 0)  # type: ignore[arg-type]
    assert refused.value.reason == "malformed"
