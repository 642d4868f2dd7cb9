"""Properties of parsing JSON from outside (request bodies, uploaded composer.json): any input either parses
or fails with the module's own error, nesting past MAX_DEPTH is refused however it is built, and what is
accepted round-trips; notify-batch bodies fail only with InvalidInput."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from package_broker import untrusted_json
from package_broker.composer.manifest import parse_manifest
from package_broker.errors import InvalidInput, InvalidManifest
from package_broker.untrusted_json import MAX_DEPTH, UntrustedJsonError
from package_broker.web.composer import _reported_downloads

SETTINGS = settings(max_examples=300, deadline=None)

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=20,
)


def depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    return 0


def nest(levels: list[bool], leaf: str = "1") -> str:
    """JSON nested `len(levels)` deep: True is a list level, False an object level."""
    text = leaf
    for is_list in reversed(levels):
        text = f"[{text}]" if is_list else f'{{"k": {text}}}'
    return text


@SETTINGS
@given(values)
def test_what_json_can_say_within_the_depth_round_trips(value: Any) -> None:
    assert untrusted_json.loads(json.dumps(value)) == value


@SETTINGS
@given(st.lists(st.booleans(), min_size=1, max_size=3000))
def test_nesting_is_refused_exactly_past_the_limit(levels: list[bool]) -> None:
    text = nest(levels)
    if len(levels) <= MAX_DEPTH:
        assert depth(untrusted_json.loads(text)) == len(levels)
    else:
        with pytest.raises(UntrustedJsonError, match="nested more than"):
            untrusted_json.loads(text)


@pytest.mark.parametrize("levels", [10_000, 100_000, 1_000_000])
def test_nesting_far_past_the_interpreter_recursion_limit_is_an_error_not_a_crash(levels: int) -> None:
    for text in ("[" * levels, "[" * levels + "]" * levels, '{"a":' * levels + "1" + "}" * levels):
        with pytest.raises(UntrustedJsonError):
            untrusted_json.loads(text)


@SETTINGS
@given(st.binary(max_size=256) | st.text(max_size=256).map(str.encode))
def test_any_bytes_parse_or_fail_with_the_modules_error(data: bytes) -> None:
    try:
        untrusted_json.loads(data)
    except UntrustedJsonError:
        pass


@SETTINGS
@given(
    st.binary(max_size=256)
    | values.map(lambda v: json.dumps(v).encode())
    | st.builds(nest, st.lists(st.booleans())).map(str.encode)
)
def test_notify_batch_bodies_fail_only_with_invalid_input(body: bytes) -> None:
    try:
        pairs = _reported_downloads(body)
    except InvalidInput:
        return
    assert all(isinstance(n, str) and isinstance(v, str) for n, v in pairs)


@SETTINGS
@given(values, st.lists(st.booleans(), max_size=200))
def test_composer_json_fails_only_with_invalid_manifest(extra: Any, levels: list[bool]) -> None:
    text = '{"name": "acme/lib", "extra": ' + nest(levels, json.dumps(extra)) + "}"
    try:
        manifest = parse_manifest(text.encode())
    except InvalidManifest:
        return
    assert 1 + len(levels) + depth(extra) <= MAX_DEPTH
    assert json.loads(json.dumps(manifest)) == manifest


@pytest.mark.parametrize("text", [r'"\ud800"', r'{"\udc00": 1}', r'[["x", "\uD800x"]]', r'{"a": {"b": "\udfff"}}'])
def test_lone_surrogates_are_refused(text: str) -> None:
    # Python would decode them into strings no UTF-8 encoder takes (a 500 later, in a database driver).
    with pytest.raises(UntrustedJsonError, match="unpaired UTF-16 surrogate"):
        untrusted_json.loads(text)


def test_paired_surrogates_decode() -> None:
    assert untrusted_json.loads(r'{"emoji": "\ud83d\ude00"}') == {"emoji": "\U0001f600"}
