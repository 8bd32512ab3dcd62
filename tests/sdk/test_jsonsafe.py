"""Bounded-depth JSON: the same answers as json.loads for sane documents, a clear refusal for deep ones."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pamchain.sdk import jsonsafe

values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet=st.sampled_from('[]{}"\\ab,:')),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4)
    ),
    max_leaves=30,
)


def _depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    return 0


@given(values)
def test_bounded_documents__same_as_json_loads(value: object) -> None:
    text = json.dumps(value)
    if _depth(value) <= jsonsafe.MAX_DEPTH:
        assert jsonsafe.loads(text) == json.loads(text)
        assert jsonsafe.loads(text.encode()) == json.loads(text)
    else:
        with pytest.raises(jsonsafe.TooDeep):
            jsonsafe.loads(text)


@pytest.mark.parametrize("depth", [jsonsafe.MAX_DEPTH + 1, 1000, 100_000])
def test_deep_arrays_and_objects__refused(depth: int) -> None:
    with pytest.raises(jsonsafe.TooDeep):
        jsonsafe.loads("[" * depth + "]" * depth)
    with pytest.raises(jsonsafe.TooDeep):
        jsonsafe.loads('{"a":' * depth + "1" + "}" * depth)
    with pytest.raises(ValueError):
        jsonsafe.loads("[" * depth)  # unclosed: still refused before the decoder recurses


def test_exactly_max_depth__accepted() -> None:
    depth = jsonsafe.MAX_DEPTH
    assert jsonsafe.loads("[" * depth + "]" * depth) is not None


def test_brackets_inside_strings__do_not_count() -> None:
    text = json.dumps({"data": "[" * 10_000 + '\\"{' * 100})
    assert jsonsafe.loads(text) == json.loads(text)


@pytest.mark.parametrize("body", ["[" * 2_500_000 + "]" * 2_500_000, "[[]" * 1_700_000])
def test_five_megabytes_of_brackets__refused(body: str) -> None:
    with pytest.raises(jsonsafe.TooDeep):
        jsonsafe.loads(body)


def test_not_utf8__value_error() -> None:
    with pytest.raises(ValueError):
        jsonsafe.loads(b"\xff\xfe[]")
