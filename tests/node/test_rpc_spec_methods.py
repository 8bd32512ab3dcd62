"""The JSON-RPC methods of issue 14 against a node process (``--rpc-debug``): ``blockTimestamp``,
``eth_getStorageValues``, ``eth_baseFee``, ``eth_config``, ``eth_capabilities``, ``txpool_contentFrom``,
``eth_getProof`` on the default block, geth's error codes, and ``debug_trace*`` with the struct logger,
``callTracer`` and ``prestateTracer`` - each with its bad inputs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from pamchain.node import run_node
from web3 import Web3

from .conftest import CHAIN_ID
from .node_process import LOGGER_ADDRESS as LOGGER_LOWER
from .node_process import NodeProcess, RpcClient, node_process, receipt

FEES = {"maxFeePerGas": 10**10, "maxPriorityFeePerGas": 1, "chainId": CHAIN_ID}
# Runtime of the traced contract: SSTORE(0, CALLDATALOAD(0)), LOG0 of nothing, then CALL the logger
# contract with no value and no data, and STOP.
RUNTIME = bytes.fromhex(
    "600035600055"  # PUSH1 0 CALLDATALOAD PUSH1 0 SSTORE
    "60006000a0"  # PUSH1 0 PUSH1 0 LOG0
    "6000600060006000600073" + LOGGER_LOWER[2:] + "5af150"  # CALL(gas, logger, 0, 0, 0, 0, 0) POP
    "00"  # STOP
)
# Init code: CODECOPY the runtime that follows it and RETURN it.
INIT = bytes.fromhex(f"60{len(RUNTIME):02x}600c60003960{len(RUNTIME):02x}6000f3") + RUNTIME
STORED = 0x2A
LOGGER = Web3.to_checksum_address(LOGGER_LOWER)


class Chain:
    """What the tests share: the node, a client, the contract and the transaction that wrote its slot."""

    def __init__(self, node: NodeProcess, contract: str, write: dict[str, Any], sender: LocalAccount) -> None:
        self.node = node
        self.rpc = node.rpc()
        self.contract = contract
        self.write = write
        self.sender = sender


def _send(client: RpcClient, user: LocalAccount, nonce: int, **tx: Any) -> str:
    signed = user.sign_transaction({"nonce": nonce, "value": 0, "gas": 200_000, **FEES, **tx})
    return str(client.call("eth_sendRawTransaction", "0x" + signed.raw_transaction.hex()))


@pytest.fixture(scope="module")
def chain(
    tmp_path_factory: pytest.TempPathFactory, signer: LocalAccount, users: list[LocalAccount]
) -> Iterator[Chain]:
    funded = [users[0].address, users[1].address]
    with node_process(tmp_path_factory.mktemp("spec"), signer, funded, ["--rpc-debug"]) as node:
        client = node.rpc()
        deployed = receipt(client, _send(client, users[0], 0, data="0x" + INIT.hex()))
        contract = Web3.to_checksum_address(deployed["contractAddress"])
        write = receipt(client, _send(client, users[0], 1, to=contract, data="0x" + f"{STORED:064x}"))
        assert write["status"] == "0x1"
        yield Chain(node, contract, write, users[0])


def _error(reply: dict[str, Any]) -> int:
    assert "error" in reply, reply
    return int(reply["error"]["code"])


# ------------------------------------------------------------------------------------------ blockTimestamp
def test_block_timestamp__on_transactions_receipt_logs_and_get_logs(chain: Chain) -> None:
    rpc = chain.rpc
    block = rpc.call("eth_getBlockByNumber", chain.write["blockNumber"], True)
    tx = rpc.call("eth_getTransactionByHash", chain.write["transactionHash"])
    assert tx["blockTimestamp"] == block["timestamp"]
    assert all(t["blockTimestamp"] == block["timestamp"] for t in block["transactions"])
    assert [entry["blockTimestamp"] for entry in chain.write["logs"]] == [block["timestamp"]] * 2
    logs = rpc.call("eth_getLogs", {"fromBlock": block["number"], "toBlock": block["number"]})
    assert logs and all(entry["blockTimestamp"] == block["timestamp"] for entry in logs)


def test_block_timestamp__pending_transaction__null(chain: Chain, users: list[LocalAccount]) -> None:
    gap = _send(chain.rpc, users[1], 5, to=LOGGER)  # nonce gap: stays queued
    tx = chain.rpc.call("eth_getTransactionByHash", gap)
    assert tx["blockTimestamp"] is None and tx["blockNumber"] is None


# --------------------------------------------------------------------------------------- storage reads
def test_get_storage_values__slots_of_several_accounts(chain: Chain) -> None:
    reply = chain.rpc.call(
        "eth_getStorageValues", {chain.contract: ["0x0", "0x01"], LOGGER_LOWER: ["0x0"]}, "latest"
    )
    assert reply == {
        chain.contract.lower(): ["0x" + f"{STORED:064x}", "0x" + "00" * 32],
        LOGGER_LOWER: ["0x" + "00" * 32],
    }


def test_get_storage_values__default_block_and_before_the_write(chain: Chain) -> None:
    before = hex(int(chain.write["blockNumber"], 16) - 1)
    assert chain.rpc.call("eth_getStorageValues", {chain.contract: ["0x0"]}) == {
        chain.contract.lower(): ["0x" + f"{STORED:064x}"]
    }
    assert chain.rpc.call("eth_getStorageValues", {chain.contract: ["0x0"]}, before) == {
        chain.contract.lower(): ["0x" + "00" * 32]
    }


@pytest.mark.parametrize(
    "params",
    [
        [{}],  # empty request
        [[]],  # not an object
        [{"0x1234": ["0x0"]}],  # short address
        [{LOGGER_LOWER: "0x0"}],  # keys not a list
        [{LOGGER_LOWER: ["0x" + "00" * 33]}],  # key over 32 bytes
        [{LOGGER_LOWER: ["0xzz"]}],  # not hex
        [{LOGGER_LOWER: ["0x0"] * 1025}],  # over the limit
        [{LOGGER_LOWER: ["0x0"]}, "0xnope"],  # bad block
    ],
)
def test_get_storage_values__bad_input__invalid_params(chain: Chain, params: list[Any]) -> None:
    assert _error(chain.rpc.request("eth_getStorageValues", *params)) == -32602


@pytest.mark.parametrize("key", ["0x" + "00" * 33, "0xasdf"])
def test_get_storage_at__malformed_key__invalid_params(chain: Chain, key: str) -> None:
    assert _error(chain.rpc.request("eth_getStorageAt", chain.contract, key, "latest")) == -32602


def test_get_proof__default_block_is_latest(chain: Chain) -> None:
    rpc = chain.rpc
    block = rpc.call("eth_getBlockByNumber", "latest", False)
    with_block = rpc.call("eth_getProof", chain.contract, ["0x0"], block["number"])
    if rpc.call("eth_blockNumber") == block["number"]:  # a block a second: only compare within one
        assert rpc.call("eth_getProof", chain.contract, ["0x0"]) == with_block
    assert with_block["storageProof"][0]["value"] == hex(STORED)
    assert _error(rpc.request("eth_getProof", chain.contract)) == -32602


def test_get_logs__to_block_past_the_head__invalid_params(chain: Chain) -> None:
    head = chain.rpc.head()
    assert (
        _error(chain.rpc.request("eth_getLogs", {"fromBlock": "0x1", "toBlock": hex(head + 1000)})) == -32602
    )


# -------------------------------------------------------------------------------- fees, config, capabilities
def test_base_fee__is_the_next_blocks(chain: Chain) -> None:
    rpc = chain.rpc
    for _ in range(3):  # a block a second: retry if one lands between the two reads
        history = rpc.call("eth_feeHistory", "0x1", "latest", [])
        if rpc.call("eth_baseFee") == history["baseFeePerGas"][-1]:
            break
    else:
        raise AssertionError("eth_baseFee never matched eth_feeHistory's next base fee")
    assert _error(rpc.request("eth_baseFee", "latest")) == -32602


def test_config__current_fork_is_prague_with_its_contracts(chain: Chain) -> None:
    config = chain.rpc.call("eth_config")
    current = config["current"]
    assert current["chainId"] == hex(CHAIN_ID)
    assert current["blobSchedule"] == {"target": 6, "max": 9, "baseFeeUpdateFraction": 5007716}
    # Prague's 17, plus EIP-7951's P256VERIFY that a pamchain genesis adds (config.pamchain.p256Verify)
    assert len(current["precompiles"]) == 18 and current["precompiles"]["ECREC"] == "0x" + "00" * 19 + "01"
    assert current["precompiles"]["P256VERIFY"] == "0x" + "00" * 18 + "0100"
    assert set(current["systemContracts"]) == {
        "BEACON_ROOTS_ADDRESS",
        "CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS",
        "DEPOSIT_CONTRACT_ADDRESS",
        "HISTORY_STORAGE_ADDRESS",
        "WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS",
    }
    assert current["forkId"].startswith("0x") and len(current["forkId"]) == 10
    assert config["next"] is None and config["last"] is None
    assert _error(chain.rpc.request("eth_config", 1)) == -32602


def test_capabilities__everything_since_genesis(chain: Chain) -> None:
    caps = chain.rpc.call("eth_capabilities")
    assert int(caps["head"]["number"], 16) >= int(chain.write["blockNumber"], 16)
    for resource in ("state", "tx", "logs", "receipts", "blocks", "stateproofs"):
        assert caps[resource] == {"disabled": False, "oldestBlock": "0x0"}
    assert _error(chain.rpc.request("eth_capabilities", "x")) == -32602


# ------------------------------------------------------------------------------------------------ txpool
def test_txpool_content_from__one_senders_pending_and_queued(chain: Chain, users: list[LocalAccount]) -> None:
    gapped = _send(chain.rpc, users[1], 9, to=LOGGER)
    mine = chain.rpc.call("txpool_contentFrom", users[1].address)
    assert mine["queued"]["9"]["hash"] == gapped and mine["pending"] == {}
    assert chain.rpc.call("txpool_contentFrom", "0x" + "ab" * 20) == {"pending": {}, "queued": {}}
    content = chain.rpc.call("txpool_content")
    assert users[1].address in content["queued"]  # checksummed, as geth
    assert _error(chain.rpc.request("txpool_contentFrom", "0x1234")) == -32602
    assert _error(chain.rpc.request("txpool_contentFrom")) == -32602


# ------------------------------------------------------------------------------------------------ tracing
def test_trace_transaction__struct_logs(chain: Chain) -> None:
    trace = chain.rpc.call("debug_traceTransaction", chain.write["transactionHash"], {"enableMemory": True})
    assert trace["failed"] is False and trace["gas"] == int(chain.write["gasUsed"], 16)
    ops = [(entry["op"], entry["depth"]) for entry in trace["structLogs"]]
    assert ("SSTORE", 1) in ops and ("LOG0", 1) in ops and ("CALL", 1) in ops
    assert ("LOG0", 2) in ops  # the logger contract, one frame down
    sstore = next(e for e in trace["structLogs"] if e["op"] == "SSTORE")
    assert sstore["storage"] == {"0x" + "00" * 32: "0x" + f"{STORED:064x}"}
    assert sstore["stack"][-1] == "0x0" and sstore["stack"][-2] == hex(STORED)
    assert sstore["gasCost"] == 22_100  # cold slot, zero to non-zero (EIP-2929 + EIP-2200)
    call = next(e for e in trace["structLogs"] if e["op"] == "CALL")
    assert call["gasCost"] > 2600  # geth counts the gas handed to the callee
    bare = chain.rpc.call(
        "debug_traceTransaction",
        chain.write["transactionHash"],
        {"disableStack": True, "disableStorage": True},
    )
    assert all("stack" not in e and "storage" not in e for e in bare["structLogs"])


def test_trace_transaction__call_tracer_tree_and_logs(chain: Chain) -> None:
    options = {"tracer": "callTracer", "tracerConfig": {"withLog": True}}
    root = chain.rpc.call("debug_traceTransaction", chain.write["transactionHash"], options)
    assert root["type"] == "CALL" and root["from"] == chain.sender.address.lower()
    assert root["to"] == chain.contract.lower() and root["gasUsed"] == chain.write["gasUsed"]
    assert root["input"] == "0x" + f"{STORED:064x}" and root["value"] == "0x0"
    (child,) = root["calls"]
    assert child["type"] == "CALL" and child["to"] == LOGGER_LOWER and child["from"] == chain.contract.lower()
    assert [log["address"] for log in root["logs"]] == [chain.contract.lower()]
    assert [log["address"] for log in child["logs"]] == [LOGGER_LOWER]
    top = chain.rpc.call(
        "debug_traceTransaction",
        chain.write["transactionHash"],
        {"tracer": "callTracer", "tracerConfig": {"onlyTopCall": True}},
    )
    assert "calls" not in top and "logs" not in top


def test_trace_transaction__prestate_tracer(chain: Chain) -> None:
    tx_hash = chain.write["transactionHash"]
    pre = chain.rpc.call("debug_traceTransaction", tx_hash, {"tracer": "prestateTracer"})
    contract = chain.contract.lower()
    assert pre[contract]["storage"] == {"0x" + "00" * 32: "0x" + "00" * 32}
    assert pre[contract]["code"] == "0x" + RUNTIME.hex() and pre[contract]["nonce"] == 1
    assert chain.sender.address.lower() in pre and LOGGER_LOWER in pre
    diff = chain.rpc.call(
        "debug_traceTransaction", tx_hash, {"tracer": "prestateTracer", "tracerConfig": {"diffMode": True}}
    )
    assert diff["post"][contract]["storage"] == {"0x" + "00" * 32: "0x" + f"{STORED:064x}"}
    assert LOGGER_LOWER not in diff["post"]  # touched, not changed
    assert diff["post"][chain.sender.address.lower()]["nonce"] == 2


def test_trace_block__by_number_and_by_hash_agree(chain: Chain) -> None:
    number, block_hash = chain.write["blockNumber"], chain.write["blockHash"]
    options = {"tracer": "callTracer"}
    by_number = chain.rpc.call("debug_traceBlockByNumber", number, options)
    assert by_number == chain.rpc.call("debug_traceBlockByHash", block_hash, options)
    assert chain.write["transactionHash"] in [entry["txHash"] for entry in by_number]


@pytest.mark.parametrize(
    ("method", "params", "code"),
    [
        ("debug_traceTransaction", ["0x" + "00" * 31 + "01"], -32000),  # unknown transaction
        ("debug_traceTransaction", ["0x1234"], -32602),  # not a hash
        ("debug_traceTransaction", [None, {"tracer": "callTracer"}], -32602),
        ("debug_traceBlockByNumber", ["0x0"], -32000),  # genesis: no parent state
        ("debug_traceBlockByNumber", ["0xffffff"], -32000),  # past the head
        ("debug_traceBlockByNumber", ["3"], -32602),  # not hex
        ("debug_traceBlockByNumber", ["latest", "callTracer"], -32602),  # options not an object
        ("debug_traceBlockByNumber", ["latest", {"tracer": "4byteTracer"}], -32000),  # not a tracer we have
        ("debug_traceBlockByNumber", ["latest", {"enableMemory": "yes"}], -32000),
        ("debug_traceBlockByHash", ["0x" + "00" * 31 + "01"], -32000),  # unknown block
    ],
)
def test_trace__bad_input__error(chain: Chain, method: str, params: list[Any], code: int) -> None:
    assert _error(chain.rpc.request(method, *params)) == code


def test_trace__without_rpc_debug__method_not_found(genesis_factory: Any, signer: LocalAccount) -> None:
    with run_node(genesis_factory(), signer.key, seal_mode="on-demand") as node:
        client = RpcClient(node.url)
        for method in ("debug_traceTransaction", "debug_traceBlockByNumber", "debug_traceBlockByHash"):
            assert _error(client.request(method, "0x1")) == -32601
        assert _error(client.request("eth_noSuchMethod")) == -32601


# ------------------------------------------------------------------------------------------ eth_simulateV1
A, B = "0x" + "c0" * 20, "0x" + "c1" * 20
# Runtime that reverts with Error("no"): the ABI payload written to memory (selector, offset, length, text),
# then REVERT(0, 100).
REVERTER = (
    "0x"
    + (
        "7f08c379a0" + "00" * 28 + "600052"  # PUSH32 selector, PUSH1 0, MSTORE
        "6020600452"  # MSTORE(4, 0x20)
        "6002602452"  # MSTORE(0x24, 2)
        "7f6e6f" + "00" * 30 + "604452"  # MSTORE(0x44, "no")
        "60646000fd"  # REVERT(0, 0x64)
    )
)


def test_simulate__transfer_over_two_blocks_with_overrides(chain: Chain) -> None:
    head = chain.rpc.head()
    blocks = chain.rpc.call(
        "eth_simulateV1",
        {
            "blockStateCalls": [
                {
                    "stateOverrides": {A: {"balance": "0x3e8"}},
                    "calls": [{"from": A, "to": B, "value": "0x3e8"}],
                },
                {"calls": [{"from": B, "to": A, "value": "0x1"}]},
            ],
            "traceTransfers": True,
            "returnFullTransactions": True,
        },
        hex(head),
    )
    assert [int(b["number"], 16) for b in blocks] == [head + 1, head + 2]
    assert blocks[1]["parentHash"] == blocks[0]["hash"]
    first = blocks[0]["calls"][0]
    assert first["status"] == "0x1" and first["gasUsed"] == hex(21_000)
    (transfer,) = first["logs"]  # traceTransfers: an ERC-7528 log for the ether moved
    assert transfer["address"] == "0x" + "ee" * 20 and transfer["data"] == "0x" + f"{0x3E8:064x}"
    assert blocks[1]["calls"][0]["status"] == "0x1"  # B received it in the block before
    tx = blocks[0]["transactions"][0]
    assert tx["from"] == A and tx["blockHash"] == blocks[0]["hash"] and tx["r"] == "0x0"
    assert chain.rpc.call("eth_getBalance", A, "latest") == "0x0"  # nothing stays


def test_simulate__revert_is_the_calls_result(chain: Chain) -> None:
    (block,) = chain.rpc.call(
        "eth_simulateV1",
        {"blockStateCalls": [{"stateOverrides": {B: {"code": REVERTER}}, "calls": [{"from": A, "to": B}]}]},
    )
    call = block["calls"][0]
    assert call["status"] == "0x0" and call["returnData"] == "0x"
    assert call["error"]["code"] == 3 and call["error"]["message"] == "execution reverted: no"
    assert call["error"]["data"].startswith("0x08c379a0")


@pytest.mark.parametrize(
    ("options", "code"),
    [
        (
            {"blockStateCalls": [{"calls": [{"from": A, "to": B, "nonce": "0x5"}]}], "validation": True},
            -38011,
        ),
        ({"blockStateCalls": [{"calls": [{"from": A, "to": B, "value": "0x1"}]}]}, -38014),
        ({"blockStateCalls": [{"calls": [{"from": A, "to": B, "gas": "0x1"}]}]}, -38013),
        ({"blockStateCalls": [{}] * 257}, -38026),
        ({"blockStateCalls": [{"blockOverrides": {"number": "0x1"}}]}, -38020),
        ({"blockStateCalls": [{"blockOverrides": {"time": "0x1"}}]}, -38021),
        ({"blockStateCalls": [{"stateOverrides": {A: {"movePrecompileToAddress": B}}}]}, -32000),
        ({"blockStateCalls": [{"stateOverrides": {A: {"state": {}, "stateDiff": {}}}}]}, -32602),
        ({"blockStateCalls": {}}, -32602),
        ({"blockStateCalls": [{"calls": [{"from": "0x12"}]}]}, -32602),
        ({"blockStateCalls": [], "validation": "yes"}, -32602),
    ],
)
def test_simulate__bad_input__error(chain: Chain, options: dict[str, Any], code: int) -> None:
    assert _error(chain.rpc.request("eth_simulateV1", options, "latest")) == code
