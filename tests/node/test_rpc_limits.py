"""Every request has a bound (issue 12, item 8): log ranges and results, fee-history percentiles, filters
(count and idle expiry), batch, body and response sizes - each configurable, each a clear JSON-RPC error.

Each limit is tested on the node directly and, where the phone relay forwards the method, through
`pamchain web`'s `/rpc` (tests/web/test_relay_limits.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from .node_process import NodeProcess, RpcClient, node_process, receipt, wait_until

# Small limits so that each is reached in a few blocks.
LIMIT_ARGS = [
    "--rpc-logs-block-range", "4", "--rpc-logs-max-results", "3", "--rpc-max-filters", "4",
    "--rpc-filter-timeout", "2", "--rpc-batch-limit", "5", "--rpc-response-max-bytes", "3000",
    "--rpc-max-body", "8192", "--rpc-fee-history-percentiles", "10",
]  # fmt: skip
CHAIN_ID = 31337


def _deploy_and_bump(
    client: RpcClient, user: LocalAccount, artifact: dict[str, Any], bumps: int
) -> tuple[str, int]:
    """Deploy the test contract and send ``bumps`` transactions that each log once, all in one block."""
    w3 = Web3()
    fees = {"maxFeePerGas": 10**10, "maxPriorityFeePerGas": 1, "chainId": CHAIN_ID, "value": 0}
    deploy = user.sign_transaction({"data": artifact["bytecode"], "gas": 1_000_000, "nonce": 0, **fees})
    tx_hash = client.call("eth_sendRawTransaction", "0x" + deploy.raw_transaction.hex())
    address = Web3.to_checksum_address(receipt(client, tx_hash)["contractAddress"])
    contract = w3.eth.contract(address=address, abi=artifact["abi"])
    data = contract.encode_abi("bump", [1])
    hashes = []
    for nonce in range(1, bumps + 1):
        tx = user.sign_transaction({"to": address, "data": data, "gas": 100_000, "nonce": nonce, **fees})
        hashes.append(client.call("eth_sendRawTransaction", "0x" + tx.raw_transaction.hex()))
    receipts = [receipt(client, h) for h in hashes]
    return address, int(receipts[-1]["blockNumber"], 16)


@pytest.fixture(scope="module")
def limited(
    tmp_path_factory: pytest.TempPathFactory,
    signer: LocalAccount,
    users: list[LocalAccount],
    contract_artifact: dict[str, Any],
) -> Iterator[tuple[NodeProcess, str, int]]:
    """A node with small limits, a contract and a block holding 4 of its logs, at least 6 blocks high."""
    with node_process(tmp_path_factory.mktemp("limited"), signer, [users[0].address], LIMIT_ARGS) as node:
        client = node.rpc()
        address, block = _deploy_and_bump(client, users[0], contract_artifact, 4)
        wait_until(lambda: client.head() >= 6, 30, "six blocks")
        yield node, address, block


def test_get_logs__range_over_the_cap__limit_exceeded(limited: tuple[NodeProcess, str, int]) -> None:
    node, address, _block = limited
    reply = node.rpc().request("eth_getLogs", {"fromBlock": "0x0", "toBlock": "latest", "address": address})
    assert reply["error"] == {"code": -32005, "message": "query exceeds max block range 4"}


def test_get_logs__more_results_than_the_cap__limit_exceeded(limited: tuple[NodeProcess, str, int]) -> None:
    node, address, block = limited
    client = node.rpc()
    reply = client.request(
        "eth_getLogs", {"fromBlock": hex(block), "toBlock": hex(block), "address": address}
    )
    assert reply["error"] == {"code": -32005, "message": "query returned more than 3 results"}
    by_hash = client.call("eth_getBlockByNumber", hex(block), False)["hash"]
    assert client.request("eth_getLogs", {"blockHash": by_hash})["error"]["code"] == -32005


def test_get_logs__within_the_caps__answers(limited: tuple[NodeProcess, str, int]) -> None:
    node, address, block = limited
    client = node.rpc()
    assert (
        client.call(
            "eth_getLogs", {"fromBlock": hex(block - 3), "toBlock": hex(block - 1), "address": address}
        )
        == []
    )


def test_fee_history__percentiles__capped_in_range_and_strictly_increasing(
    limited: tuple[NodeProcess, str, int],
) -> None:
    client = limited[0].rpc()
    cases = {
        "over the query limit 10": list(range(11)),
        "101.000000": [10, 101],
        "#0:10.000000 >= #1:10.000000": [10, 10],  # duplicates: what made a 72 MB answer
        "#0:50.000000 >= #1:20.000000": [50, 20],
        "-1.000000": [-1],
    }
    for message, percentiles in cases.items():
        reply = client.request("eth_feeHistory", "0x4", "latest", percentiles)
        assert reply["error"] == {"code": -32602, "message": f"invalid reward percentile: {message}"}, (
            percentiles
        )
    ok = client.call("eth_feeHistory", "0x4", "latest", [0, 25.5, 50, 100])
    assert len(ok["reward"]) == 4 and all(len(r) == 4 for r in ok["reward"])


def test_filters__count_cap_and_idle_expiry(limited: tuple[NodeProcess, str, int]) -> None:
    client = limited[0].rpc()
    installed = [client.call("eth_newBlockFilter") for _ in range(4)]
    reply = client.request("eth_newBlockFilter")
    assert reply["error"] == {"code": -32005, "message": "too many filters installed (limit 4)"}
    # Idle for the 2 s timeout (4 blocks of a second each): dropped, and their slots are free again.
    start = client.head()
    wait_until(lambda: client.head() >= start + 4, 30, "four more blocks")
    assert client.request("eth_getFilterChanges", installed[0])["error"] == {
        "code": -32000,
        "message": "filter not found",
    }
    fresh = client.call("eth_newFilter", {"fromBlock": "latest"})
    assert client.call("eth_getFilterChanges", fresh) == []
    assert client.call("eth_uninstallFilter", fresh) is True


def test_batch__over_the_request_limit__refused(limited: tuple[NodeProcess, str, int]) -> None:
    client = limited[0].rpc()
    batch = [{"jsonrpc": "2.0", "id": i, "method": "eth_chainId", "params": []} for i in range(6)]
    reply = client.post(batch).json()
    assert reply == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": -32600, "message": "batch too large (limit 5 requests)"},
    }
    assert len(client.post(batch[:5]).json()) == 5


def test_response__over_the_size_limit__response_too_large(limited: tuple[NodeProcess, str, int]) -> None:
    client = limited[0].rpc()
    block = limited[2]
    batch = [
        {"jsonrpc": "2.0", "id": i, "method": "eth_getBlockByNumber", "params": [hex(i), False]}
        for i in range(5)
    ]
    replies = client.post(batch).json()
    assert "result" in replies[0]
    too_large = {"code": -32003, "message": "response too large (limit 3000 bytes)"}
    assert replies[-1] == {"jsonrpc": "2.0", "id": 4, "error": too_large}
    assert len(json.dumps(replies)) < 3000 + 500
    single = client.request("eth_getBlockByNumber", hex(block), True)  # four transactions in full
    assert single["error"] == too_large


def test_body__over_the_size_limit__413(limited: tuple[NodeProcess, str, int]) -> None:
    client = limited[0].rpc()
    body = {"jsonrpc": "2.0", "id": 1, "method": "web3_sha3", "params": ["0x" + "00" * 5000]}
    response = client.post(body)
    assert response.status_code == 413
    assert response.json()["error"] == {"code": -32600, "message": "request body too large"}


def test_sdk_log_reads__split_what_the_node_refuses_as_too_large(
    limited: tuple[NodeProcess, str, int], users: list[LocalAccount], contract_artifact: dict[str, Any]
) -> None:
    """An oracle or an audit asks for a fixed window of blocks: on a node with a 4-block range and 3-result cap
    both SDK transports (lean JSON-RPC and web3) halve the refused ranges and return every log in chain order;
    a single block with more logs than the cap is a clear error naming the limit to raise."""
    from pamchain.sdk.chain.client import PamClient, connect
    from pamchain.sdk.chain.jsonrpc import ChainRpc, LogLimitExceeded
    from pamchain.sdk.chain.reader import ChainReader, logs_in_range

    node, address, block = limited
    client = node.rpc()
    user, w3 = users[0], Web3()
    data = w3.eth.contract(
        address=Web3.to_checksum_address(address), abi=contract_artifact["abi"]
    ).encode_abi("bump", [1])
    for _ in range(5):  # one log per block, in five blocks after the crowded one
        nonce = int(client.call("eth_getTransactionCount", user.address, "latest"), 16)
        fields: dict[str, Any] = {
            "to": address, "data": data, "gas": 100_000, "nonce": nonce, "maxFeePerGas": 10**10,
            "maxPriorityFeePerGas": 1, "chainId": CHAIN_ID, "value": 0,
        }  # fmt: skip
        tx = user.sign_transaction(fields)
        receipt(client, client.call("eth_sendRawTransaction", "0x" + tx.raw_transaction.hex()))
    head = client.head()
    expected = [
        log
        for n in range(block + 1, head + 1)
        for log in client.call("eth_getLogs", {"fromBlock": hex(n), "toBlock": hex(n), "address": address})
    ]
    assert len(expected) == 5
    lean = ChainReader(ChainRpc(node.url), address)
    typed = PamClient(connect(node.url), address)
    for reader in (lean, typed):
        query = {"address": address, "fromBlock": block + 1, "toBlock": head}
        found = logs_in_range(reader._get_logs, query, reader.block_number)
        assert [_position(x) for x in found] == [_position(x) for x in expected]
        with pytest.raises(LogLimitExceeded, match=rf"block {block} alone .*--rpc-logs-max-results"):
            logs_in_range(
                reader._get_logs,
                {"address": address, "fromBlock": 0, "toBlock": "latest"},
                reader.block_number,
            )


def _position(log: Any) -> tuple[int, int]:
    """(block, log index) of a log as either transport returns it (hex strings or ints)."""
    return tuple(int(v, 16) if isinstance(v, str) else int(v) for v in (log["blockNumber"], log["logIndex"]))  # type: ignore[return-value]
