"""Fuzz the RPC endpoint: whatever arrives, the answer is a JSON-RPC error with a standard code and the node lives."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st
from pamchain.node import run_node
from pamchain.node.service import NodeHandle

STANDARD_CODES = {-32700, -32600, -32601, -32602, -32603, -32000, -32005, -32007, 3}
METHODS = [
    "eth_getBalance",
    "eth_getBlockByNumber",
    "eth_getBlockByHash",
    "eth_call",
    "eth_estimateGas",
    "eth_getLogs",
    "eth_sendRawTransaction",
    "eth_getTransactionReceipt",
    "eth_getStorageAt",
    "eth_feeHistory",
    "eth_newFilter",
    "eth_getFilterChanges",
    "web3_sha3",
    "eth_getCode",
    "eth_getTransactionCount",
    "txpool_content",
    "nope_nothing",
]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=80)
    | st.sampled_from(["0x", "0x0", "0x00", "latest", "pending", "0x" + "ff" * 40, "0x" + "1" * 64]),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)
requests_ = st.fixed_dictionaries(
    {
        "jsonrpc": st.sampled_from(["2.0", "1.0", 2]),
        "method": st.sampled_from(METHODS) | st.text(max_size=20),
    },
    optional={
        "id": st.integers() | st.text(max_size=10) | st.none(),
        "params": st.lists(json_values, max_size=4) | json_values,
    },
)


@pytest.fixture(scope="module")
def fuzz_node(signer: Any, users: Any) -> Iterator[NodeHandle]:
    from pamchain.node import make_genesis

    genesis = make_genesis([signer.address], 31337, {u.address: 10**21 for u in users})
    with run_node(genesis, signer.key, max_body=256 * 1024) as node:
        yield node


def _post(node: NodeHandle, body: bytes) -> requests.Response:
    return requests.post(node.url, data=body, headers={"Content-Type": "application/json"}, timeout=30)


def _check_reply(obj: Any) -> None:
    items = obj if isinstance(obj, list) else [obj]
    for item in items:
        assert item["jsonrpc"] == "2.0"
        if "error" in item:
            assert item["error"]["code"] in STANDARD_CODES, item
            assert isinstance(item["error"]["message"], str)
        else:
            assert "result" in item


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_garbage_bodies(fuzz_node: NodeHandle, body: bytes) -> None:
    reply = _post(fuzz_node, body)
    if reply.content:
        _check_reply(reply.json())


@settings(max_examples=300, deadline=None)
@given(st.one_of(requests_, st.lists(requests_, max_size=6), json_values))
def test_structured_requests(fuzz_node: NodeHandle, payload: Any) -> None:
    reply = _post(fuzz_node, json.dumps(payload).encode())
    assert reply.status_code == 200
    if reply.content:
        _check_reply(reply.json())


def test_limits_and_liveness(fuzz_node: NodeHandle) -> None:
    huge = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "web3_sha3", "params": ["0x" + "ab" * 200_000]})
    reply = _post(fuzz_node, huge.encode())
    assert reply.status_code == 413 and reply.json()["error"]["code"] == -32600
    batch = [{"jsonrpc": "2.0", "id": i, "method": "eth_chainId"} for i in range(1001)]
    assert _post(fuzz_node, json.dumps(batch).encode()).json()["error"]["code"] == -32600
    deep = "[" * 5000 + "]" * 5000
    _check_reply(_post(fuzz_node, deep.encode()).json())
    ok = _post(fuzz_node, b'{"jsonrpc":"2.0","id":7,"method":"eth_chainId","params":[]}').json()
    assert ok == {"jsonrpc": "2.0", "id": 7, "result": hex(31337)}
    notification = _post(fuzz_node, b'{"jsonrpc":"2.0","method":"eth_chainId"}')
    assert notification.status_code == 200 and notification.content == b""


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{", -32700),
        (b"[]", -32600),
        (b'{"jsonrpc":"2.0","id":1}', -32600),
        (b'{"jsonrpc":"2.0","id":1,"method":"eth_nothing"}', -32601),
        (b'{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0x12"]}', -32602),
        (b'{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":{"a":1}}', -32602),
        (b'{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0x1234"]}', -32000),
        (b'{"jsonrpc":"2.0","id":1,"method":"debug_getRawBlock","params":["0x0"]}', -32601),
    ],
)
def test_standard_error_codes(fuzz_node: NodeHandle, body: bytes, code: int) -> None:
    assert _post(fuzz_node, body).json()["error"]["code"] == code
