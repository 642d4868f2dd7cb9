"""Package names: Composer's rules, which also keep names out of path-traversal territory."""

from __future__ import annotations

import pytest

from package_broker.composer.names import naming_error, validate_name
from package_broker.errors import InvalidName


@pytest.mark.parametrize("name", ["acme/lib", "acme/lib-2", "a1/b.c_d", "acme/foo--bar", "0vendor/9pkg"])
def test_valid_names_pass(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("acme", "vendor name, a forward slash"),
        ("acme/../etc", "vendor name, a forward slash"),
        ("../acme/lib", "vendor name, a forward slash"),
        ("acme/lib/extra", "vendor name, a forward slash"),
        ("acme%2Flib", "vendor name, a forward slash"),
        ("acme/%2e%2e", "vendor name, a forward slash"),
        ("acme/.hidden", "vendor name, a forward slash"),
        ("acme\\lib", "vendor name, a forward slash"),
        ("acme/lib.json", "can not end in .json"),
        ("con/lib", "reserved"),
        ("Acme/Lib", "We suggest using acme/lib"),
        ("acme/FooBar", "We suggest using acme/foo-bar"),
        ("acme/lib~dev", "vendor name, a forward slash"),
        # Composer's PCRE pattern folds A-Z only; Python's Unicode IGNORECASE would let these through.
        ("acme/\u212aelvin", "vendor name, a forward slash"),
        ("acme/lib\u0131", "vendor name, a forward slash"),
        ("\u017fymfony/lib", "vendor name, a forward slash"),
        ("acme/lib\n", "vendor name, a forward slash"),
    ],
)
def test_invalid_names_are_explained(name: str, hint: str) -> None:
    error = naming_error(name)
    assert error is not None and hint in error
    with pytest.raises(InvalidName):
        validate_name(name)


@pytest.mark.parametrize("value", [None, "", 42, ["acme/lib"]])
def test_a_missing_or_non_string_name_is_refused(value: object) -> None:
    with pytest.raises(InvalidName, match='needs a "name"'):
        validate_name(value)
