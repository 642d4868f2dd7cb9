"""Version strings, branch names, constraints and package names, generated, against Composer's own parser."""

from __future__ import annotations

from hypothesis import assume, given

from package_broker.composer.constraints import parse_constraints
from package_broker.composer.names import naming_error
from package_broker.composer.versions import normalize, normalize_branch, parse_stability
from package_broker.errors import InvalidConstraint, InvalidVersion
from tests.property.conftest import Php
from tests.property.strategies import constraints, names, tricky_text, versions


@given(versions())
def test_normalize(php: Php, version: str) -> None:
    real = php.call("normalize", version)
    try:
        ours = normalize(version)
    except InvalidVersion:
        assert "error" in real, real
    else:
        assert real == {"ok": ours}


@given(versions() | tricky_text)
def test_normalize_branch_and_stability(php: Php, name: str) -> None:
    assert php.call("branch", name) == {"ok": normalize_branch(name)}
    assert php.call("stability", name) == {"ok": parse_stability(name)}


@given(constraints())
def test_parse_constraints(php: Php, constraint: str) -> None:
    real = php.call("constraints", constraint)
    try:
        ours = {"ok": str(parse_constraints(constraint))}
    except InvalidConstraint as refused:
        ours = {"error": str(refused), "fatal": False}
    assert ours == real


@given(names)
def test_package_names(php: Php, name: str) -> None:
    real = php.call("name", name)
    assume(not real.get("platform"))  # `php`, `ext-json`: valid requirements, never served packages
    assert (naming_error(name) is None) == (real["ok"] is None), real
