"""The node's request bounds hold through the phone relay (`pamchain web`'s `/rpc`), which forwards
JSON-RPC from anyone (issue 12, items 6 and 8): calls, log queries and fee history cannot stall the chain
or balloon an answer. Plain HTTP against the relay and a node process; no browser."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from eth_account import Account
from pamchain.web.server import WebApp, WebConfig, WebHandle

from ..node.node_process import (
    LOOP_ADDRESS,
    NodeProcess,
    RpcClient,
    log_in_one_block,
    node_process,
    wait_until,
)

SIGNER = Account.from_key((0xA11CE).to_bytes(32, "big"))
USER = Account.from_key((0xB0B).to_bytes(32, "big"))
ARGS = [
    "--rpc-logs-block-range", "4", "--rpc-logs-max-results", "3", "--rpc-response-max-bytes", "3000",
    "--rpc-batch-limit", "5",
]  # fmt: skip


@pytest.fixture(scope="module")
def relayed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[NodeProcess, str]]:
    """A node process with small log, batch and response limits, and `pamchain web` relaying to it."""
    with node_process(tmp_path_factory.mktemp("relayed"), SIGNER, [USER.address], ARGS) as node:
        config = WebConfig(rpc_url=node.url, chain_id=31337, contract="0x" + "00" * 20, deployment_block=0)
        web = WebHandle(WebApp(config), "127.0.0.1", 0).start()
        try:
            wait_until(lambda: node.rpc().head() >= 6, 30, "six blocks")
            yield node, web.url + "rpc"
        finally:
            web.stop()


def _relay(url: str, body: Any, timeout: float = 60) -> requests.Response:
    session = requests.Session()
    session.trust_env = False
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return session.post(url, data=data, headers={"Content-Type": "application/json"}, timeout=timeout)


def _call(method: str, *params: Any, id_: int = 1) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": id_, "method": method, "params": list(params)}


def test_relay__fee_history_with_120_kb_of_percentiles__refused_small_and_fast(
    relayed: tuple[NodeProcess, str],
) -> None:
    node, url = relayed
    body = json.dumps(
        _call("eth_feeHistory", "0x400", "latest", [50] * 40_000), separators=(",", ":")
    )  # 120 KB
    assert 100_000 < len(body) < 128 * 1024
    started = time.monotonic()
    response = _relay(url, body)
    assert time.monotonic() - started < 10
    assert len(response.content) < 1_000
    assert response.json()["error"] == {
        "code": -32602,
        "message": "invalid reward percentile: over the query limit 100",
    }
    assert node.proc.poll() is None


def test_relay__get_logs_range_and_result_caps(relayed: tuple[NodeProcess, str]) -> None:
    node, url = relayed
    wide = _relay(url, _call("eth_getLogs", {"fromBlock": "0x0", "toBlock": "latest"})).json()
    assert wide["error"] == {"code": -32005, "message": "query exceeds max block range 4"}
    narrow = _relay(url, _call("eth_getLogs", {"fromBlock": "0x1", "toBlock": "0x4"})).json()
    assert narrow["result"] == []
    block = log_in_one_block(RpcClient(node.url), USER, 4)
    many = _relay(url, _call("eth_getLogs", {"fromBlock": hex(block), "toBlock": hex(block)})).json()
    assert many["error"] == {"code": -32005, "message": "query returned more than 3 results"}
    three = _relay(url, _call("eth_getLogs", {"fromBlock": hex(block - 1), "toBlock": hex(block - 1)})).json()
    assert three["result"] == []


def test_relay__batch_limits__the_relay_s_own_and_the_node_s(relayed: tuple[NodeProcess, str]) -> None:
    _node, url = relayed
    six = [_call("eth_chainId", id_=i) for i in range(6)]
    assert _relay(url, six).json() == {
        "jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "batch too large (limit 5 requests)"}
    }  # fmt: skip
    assert _relay(url, [_call("eth_chainId", id_=i) for i in range(21)]).status_code == 403  # the relay's 20


def test_relay__filters__not_relayed(relayed: tuple[NodeProcess, str]) -> None:
    _node, url = relayed
    for method in ("eth_newFilter", "eth_newBlockFilter", "eth_getFilterChanges", "eth_subscribe"):
        assert _relay(url, _call(method)).status_code == 403  # filter limits are tested on the node directly


def test_relay__response_size_cap(relayed: tuple[NodeProcess, str]) -> None:
    _node, url = relayed
    batch = [_call("eth_getBlockByNumber", hex(n), False, id_=n) for n in range(5)]
    replies = _relay(url, batch).json()
    assert "result" in replies[0]
    assert replies[-1]["error"] == {"code": -32003, "message": "response too large (limit 3000 bytes)"}


def test_relay__endless_eth_call__aborted_at_the_budget_while_sealing_goes_on(
    relayed: tuple[NodeProcess, str],
) -> None:
    node, url = relayed
    client = RpcClient(node.url)
    before = client.head()
    started = time.monotonic()
    reply = _relay(url, _call("eth_call", {"to": LOOP_ADDRESS, "gas": hex(90_000_000)}, "latest")).json()
    elapsed = time.monotonic() - started
    assert reply["error"] == {"code": -32000, "message": "execution aborted (timeout = 5s)"}
    assert elapsed < 30
    stamps = [
        int(client.call("eth_getBlockByNumber", hex(n), False)["timestamp"], 16)
        for n in range(before, client.head() + 1)
    ]
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert gaps and max(gaps) <= 2, gaps


def test_relay__body_over_its_limit__refused(relayed: tuple[NodeProcess, str]) -> None:
    _node, url = relayed
    response = _relay(url, json.dumps(_call("eth_call", {"data": "0x" + "00" * 70_000})))
    assert response.status_code == 413
