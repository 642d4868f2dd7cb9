"""Inputs shaped like what Composer reads, with the characters Python and PCRE disagree on mixed in.

Each strategy builds from Composer's own grammar (numbers, separators, stability words in any case,
operators) and then lets arbitrary text in, so the tests reach both the accepting and the refusing paths.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

#: Characters where a Unicode-aware regex or str method differs from PCRE on bytes: non-ASCII digits and
#: letters that case-fold to ASCII (Kelvin sign, long s, dotless i, dotted I), and whitespace PHP's trim()
#: or PCRE's \s treat differently (NBSP, form feed, vertical tab, NUL).
TRICKY = "١٢٣۴ſKıİ\u00a0\x0c\x0b\x00é😀"
ASCII = "".join(chr(c) for c in range(32, 127))

tricky_text = st.text(alphabet=st.sampled_from(ASCII + TRICKY + "\t\n"), max_size=12)
numbers = st.one_of(st.integers(0, 20).map(str), st.sampled_from(["00", "007", "99999", "123456", "9999999", "2024"]))
stability = st.sampled_from(["", "stable", "beta", "b", "RC", "rc", "alpha", "a", "patch", "pl", "p", "dev", "STABLE"])


@st.composite
def versions(draw: st.DrawFn) -> str:
    """A version string: mostly Composer-shaped, sometimes with a tricky character or arbitrary text."""
    if draw(st.integers(0, 9)) == 0:
        return draw(tricky_text)
    parts = draw(st.lists(numbers, min_size=1, max_size=6))
    text = draw(st.sampled_from(["", "v", "V"])) + draw(st.sampled_from([".", ".", "-", ":"])).join(parts)
    word = draw(stability)
    if word:
        text += draw(st.sampled_from(["-", ".", "_", ""])) + draw(st.sampled_from([word, word.upper(), word.title()]))
        text += draw(st.sampled_from(["", "1", ".2", "-3", "1.2"]))
    text += draw(st.sampled_from(["", "", "-dev", ".dev", "dev", ".x-dev", "@dev", "@beta", "+build.5", " as 2.0.0"]))
    if draw(st.booleans()):
        text = draw(st.sampled_from(["", "", "dev-", "DEV-", " "])) + text + draw(st.sampled_from(["", " ", "\n"]))
    if draw(st.integers(0, 4)) == 0:
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(TRICKY)) + text[at:]
    return text


@st.composite
def constraints(draw: st.DrawFn) -> str:
    """A constraint: version atoms with operators, wildcards, ranges and flags, joined by and/or."""
    atoms = []
    for _ in range(draw(st.integers(1, 3))):
        atom = draw(versions())
        kind = draw(st.integers(0, 6))
        if kind == 1:
            atom = draw(st.sampled_from(["~", "^", ">=", "<", "<=", ">", "!=", "==", "=", "<>", "~>"])) + atom
        elif kind == 2:
            atom = draw(st.sampled_from(["*", "x", "v*", "1.*", "1.x", "1.2.*", "*.*", "0.0.x", "X.x"]))
        elif kind == 3:
            atom = f"{atom} - {draw(versions())}"
        elif kind == 4:
            atom = draw(st.sampled_from(["dev-main#abc123", "1.x-dev#123", "@dev", "self.version"]))
        atoms.append(atom)
    joins = st.sampled_from([" ", ",", ", ", " || ", "|", "||", " | ", "  "])
    return "".join(a + (draw(joins) if i < len(atoms) - 1 else "") for i, a in enumerate(atoms))


names = st.one_of(
    st.from_regex(r"[a-zA-Z0-9][a-zA-Z0-9._-]{0,8}/[a-zA-Z0-9][a-zA-Z0-9._-]{0,8}", fullmatch=True),
    st.builds(lambda v, p: f"{v}/{p}", tricky_text, tricky_text),
    tricky_text,
)

json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=8),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(alphabet=st.sampled_from("ab01é"), max_size=3), inner, max_size=4),
    ),
    max_leaves=12,
)


@st.composite
def json_documents(draw: st.DrawFn) -> bytes:
    """JSON text, then perhaps broken the ways PHP and Python disagree on (see composer/phpjson.py)."""
    text = json.dumps(draw(json_values), ensure_ascii=draw(st.booleans()))
    mutation = draw(st.integers(0, 9))
    raw = text.encode()
    if mutation == 1:
        raw = b"\xef\xbb\xbf" + raw
    elif mutation == 2:
        escape = draw(st.sampled_from(["\\ud800", "\\udc00x", "\\ud83d\\ude00", "\\u00e9", "\\ude00\\ud83d"]))
        raw = ("[" + text + ', "' + escape + '"]').encode()
    elif mutation == 3:
        number = draw(st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-0", "1E5", "01", "-0.0", "1" * 30]))
        raw = ("[" + text + ", " + number + "]").encode()
    elif mutation == 4:
        depth = draw(st.sampled_from([1, 509, 510, 511, 512, 2000]))
        raw = ("[" * depth + text + "]" * depth).encode()
    elif mutation == 5:
        raw = draw(st.sampled_from([b" ", b"\t", b"\n", b"\r", b"\x0c", b"\x00", b"\xa0"])) + raw
    elif mutation == 6:
        at = draw(st.integers(0, len(raw)))
        raw = (
            raw[:at]
            + draw(st.sampled_from([b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x01"]))
            + raw[at:]
        )
    elif mutation == 7:
        raw = raw + draw(st.sampled_from([b",", b"}", b" x", b"\n"]))
    return raw


def composer_json_values() -> st.SearchStrategy[Any]:
    """Values a composer.json field might hold by mistake."""
    return st.one_of(
        json_values,
        constraints(),
        st.dictionaries(
            st.sampled_from(["php", "acme/x", "0", "Acme/Y", "ext-json"]),
            st.one_of(constraints(), json_values),
            max_size=3,
        ),
    )
