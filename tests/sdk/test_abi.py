"""The SDK's ABI codec against eth_abi/eth_utils (the reference the typed client used before): same bytes, same
values, same selectors and topics for every function and event of the suite; malformed data is refused."""

from __future__ import annotations

from typing import Any, cast

import eth_abi
import pytest
from eth_utils import event_abi_to_log_topic, function_abi_to_4byte_selector
from eth_utils import is_address as ref_is_address
from eth_utils import keccak as ref_keccak
from eth_utils import to_checksum_address as ref_checksum
from hypothesis import given, settings
from hypothesis import strategies as st
from pamchain.contracts import DEPLOYABLES
from pamchain.sdk.chain.abi import (
    AbiError,
    AbiType,
    decode,
    encode,
    is_address,
    keccak,
    parse_type,
    suite_abi,
    to_checksum_address,
)
from web3 import Web3

SCALARS = [
    "uint8",
    "uint64",
    "uint256",
    "int8",
    "int256",
    "address",
    "bool",
    "bytes4",
    "bytes32",
    "bytes",
    "string",
]


def _type_text(depth: int = 0) -> st.SearchStrategy[str]:
    scalar = st.sampled_from(SCALARS)
    if depth >= 2:
        return scalar
    inner = _type_text(depth + 1)
    return st.one_of(
        scalar,
        inner.map(lambda t: t + "[]"),
        st.tuples(inner, st.integers(1, 3)).map(lambda p: f"{p[0]}[{p[1]}]"),
        st.lists(inner, min_size=1, max_size=3).map(lambda ts: "(" + ",".join(ts) + ")"),
    )


def _param(text: str) -> dict[str, Any]:
    """An ABI JSON parameter for a type string (tuples spelled ``(a,b)`` as eth_abi takes them)."""
    suffix = ""
    while text.endswith("]"):
        cut = text.rindex("[")
        suffix = text[cut:] + suffix
        text = text[:cut]
    if text.startswith("("):
        parts, level, start = [], 0, 1
        for i, ch in enumerate(text):
            level += ch == "("
            level -= ch == ")"
            if (ch == "," and level == 1) or (ch == ")" and level == 0):
                parts.append(text[start:i])
                start = i + 1
        return {"type": "tuple" + suffix, "components": [_param(p) for p in parts]}
    return {"type": text + suffix}


def _value(t: AbiType) -> st.SearchStrategy[Any]:
    if t.kind == "uint":
        return st.integers(0, 2**t.size - 1)
    if t.kind == "int":
        return st.integers(-(2 ** (t.size - 1)), 2 ** (t.size - 1) - 1)
    if t.kind == "address":
        return st.binary(min_size=20, max_size=20).map(ref_checksum)
    if t.kind == "bool":
        return st.booleans()
    if t.kind == "fixed_bytes":
        return st.binary(min_size=t.size, max_size=t.size)
    if t.kind == "bytes":
        return st.binary(max_size=70)
    if t.kind == "string":
        return st.text(max_size=20)
    if t.kind == "array":
        return st.lists(_value(t.items[0]), min_size=t.size, max_size=t.size or 3).map(tuple)
    return st.tuples(*(_value(item) for item in t.items))


@st.composite
def typed_values(draw: st.DrawFn) -> tuple[list[str], list[AbiType], tuple[Any, ...]]:
    texts = draw(st.lists(_type_text(), min_size=1, max_size=4))
    types = [parse_type(_param(t)) for t in texts]
    values = tuple(draw(_value(t)) for t in types)
    return texts, types, values


@settings(max_examples=300, deadline=None)
@given(typed_values())
def test_codec__matches_eth_abi(case: tuple[list[str], list[AbiType], tuple[Any, ...]]) -> None:
    texts, types, values = case
    encoded = encode(types, values)
    assert encoded == eth_abi.encode(texts, values)
    assert [t.canonical for t in types] == texts
    decoded = decode(types, encoded)
    assert decoded == values  # addresses checksummed, as web3 returns call results
    assert _lower(decoded) == _lower(eth_abi.decode(texts, encoded))  # eth_abi gives them in lower case


def _lower(value: Any) -> Any:
    if isinstance(value, tuple):
        return tuple(_lower(v) for v in value)
    return value.lower() if isinstance(value, str) and value.startswith("0x") else value


@pytest.mark.parametrize("name", DEPLOYABLES)
def test_suite_abi__selectors_and_topics_match_eth_utils(name: str) -> None:
    from pamchain.contracts import artifacts

    items = artifacts()[name]["abi"]
    ours = suite_abi(name)
    functions = [item for item in items if item["type"] == "function"]
    assert {f["name"]: function_abi_to_4byte_selector(cast(Any, f)) for f in functions} == {
        n: f.selector for n, f in ours.functions.items()
    }
    events = [item for item in items if item["type"] == "event"]
    assert {event_abi_to_log_topic(cast(Any, e)): e["name"] for e in events} == {
        topic: e.name for topic, e in ours.events.items()
    }


def test_function__encodes_calls_as_web3() -> None:
    from pamchain.contracts import artifacts

    contract = Web3().eth.contract(address=ref_checksum("0x" + "11" * 20), abi=artifacts()["PamChain"]["abi"])
    function = suite_abi("PamChain").functions["request_elevation"]
    args = (b"\x01" * 32, 3600, b"\x02" * 32, b"\x03" * 32, True)
    ours = function.encode_call(*args)
    assert "0x" + ours.hex() == contract.functions.request_elevation(*args)._encode_transaction_data()
    assert function.decode_input(ours) == {
        name: value for name, value in zip(function.input_names, args, strict=True)
    }


@given(st.binary(min_size=20, max_size=20))
def test_addresses__checksums_match_eth_utils(raw: bytes) -> None:
    reference = ref_checksum(raw)
    assert to_checksum_address(raw) == to_checksum_address(reference.lower()) == reference
    assert is_address(reference) and is_address(reference.lower()) and is_address(reference[2:])
    assert keccak(raw) == ref_keccak(raw)


@pytest.mark.parametrize("text", ["", "0x", "0x" + "1" * 39, "0x" + "g" * 40, "0x" + "1" * 41, 42, None])
def test_is_address__rejects_what_eth_utils_rejects(text: Any) -> None:
    assert is_address(text) is False
    assert ref_is_address(text) is False


def test_is_address__any_case_as_eth_utils() -> None:
    good = ref_checksum("0x" + "ab" * 20)
    odd = good[:2] + good[2:].swapcase()  # eth_utils takes any case; a checksum is only checked when asked
    assert is_address(odd) is ref_is_address(odd) is True
    assert to_checksum_address(odd) == good
    with pytest.raises(AbiError):
        to_checksum_address("0xnothex")


@pytest.mark.parametrize(
    ("types", "data", "why"),
    [
        (["uint256"], b"\x00" * 31, "too short"),
        (["bool"], (2).to_bytes(32, "big"), "a bool is 0 or 1"),
        (["address"], b"\x01" + b"\x00" * 31, "non-zero padding"),
        (["bytes4"], b"\x00" * 4 + b"\x01" + b"\x00" * 27, "non-zero padding"),
        (["uint8"], (256).to_bytes(32, "big"), "out of range"),
        (["bytes"], (32).to_bytes(32, "big") + (100).to_bytes(32, "big"), "too short"),
        (["uint256[]"], (32).to_bytes(32, "big") + (2**200).to_bytes(32, "big"), "too short"),
        (["string"], (32).to_bytes(32, "big") + (1).to_bytes(32, "big") + b"\xff" + b"\x00" * 31, "UTF-8"),
    ],
)
def test_decode__malformed_data__raises(types: list[str], data: bytes, why: str) -> None:
    with pytest.raises(AbiError, match=why):
        decode([parse_type({"type": t}) for t in types], data)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("uint8", 256),
        ("uint256", -1),
        ("uint256", True),
        ("int8", 128),
        ("bool", 2),
        ("address", "0x1234"),
        ("bytes4", b"\x00" * 5),
        ("string", b"bytes"),
        ("uint256[2]", [1]),
        ("uint256[]", "123"),
    ],
)
def test_encode__value_outside_its_type__raises(text: str, value: Any) -> None:
    with pytest.raises(AbiError):
        encode([parse_type({"type": text})], [value])


def test_function__wrong_arity_and_foreign_call__raise() -> None:
    function = suite_abi("PamChain").functions["approve"]
    with pytest.raises(AbiError, match="takes 1 argument"):
        function.encode_call(1, 2)
    with pytest.raises(AbiError, match="not a call to approve"):
        function.decode_input(b"\x00\x00\x00\x00" + b"\x00" * 32)
    with pytest.raises(AbiError, match="unsupported ABI type"):
        parse_type({"type": "fixed128x18"})
