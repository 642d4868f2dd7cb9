"""composer.json bytes and minified metadata, generated, against PHP's json_decode and Composer's minifier."""

from __future__ import annotations

import base64
import struct
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from package_broker.composer.minifier import expand, minify
from package_broker.composer.phpjson import decode
from package_broker.errors import InvalidManifest
from tests.property.conftest import Php
from tests.property.strategies import json_documents


def typed(value: Any) -> list[Any]:
    """A decoded value with PHP's types spelled out, as tests/property/oracle.php writes them."""
    if isinstance(value, dict):
        return ["arr", [[key, typed(item)] for key, item in value.items()]]
    if isinstance(value, list):
        return ["arr", [[str(index), typed(item)] for index, item in enumerate(value)]]
    if value is None:
        return ["NULL", None]
    if isinstance(value, bool):
        return ["boolean", value]
    if isinstance(value, int):
        return ["integer", value]
    if isinstance(value, float):
        return ["float", struct.pack(">d", value).hex()]
    return ["str", value.encode().hex()]


@given(json_documents())
def test_json_is_decoded_as_php_decodes_it(php: Php, raw: bytes) -> None:
    real = php.call("json", base64.b64encode(raw).decode())
    try:
        value = decode(raw)
    except InvalidManifest:
        assert "error" in real, real
    else:
        assert "ok" in real, real
        if real["ok"] != "deep":
            assert typed(value) == real["ok"]


#: Values whose type survives the trip to PHP (integers within 64 bits), with true/1/1.0 look-alikes often.
values = st.recursive(
    st.one_of(st.sampled_from([True, False, 1, 0, 1.0, 0.0, "", "1", "__unset"]), st.integers(-5, 5), st.floats(-2, 2)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["a", "b", "0", "plugin-optional"]), inner, max_size=3),
    ),
    max_leaves=6,
)
version_lists = st.lists(
    st.dictionaries(st.sampled_from(["version", "extra", "type", "require", "n"]), values), max_size=5
)


@given(version_lists)
def test_minify_and_expand_are_composers(php: Php, listed: list[dict[str, Any]]) -> None:
    """Finding 3: Python's == merged true with 1; the diffs must be PHP's, value types included."""
    real = php.call("minify", listed)
    assert typed(minify(listed)) == real["ok"]
    assert typed(expand(minify(listed))) == real["expanded"]
