"""web3.py, unmodified, against the running node over HTTP: deploy, transact, read, events, errors."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.exceptions import ContractLogicError

from .conftest import CHAIN_ID


def _send(w3: Web3, account: LocalAccount, tx: dict[str, Any]) -> Any:
    tx.setdefault("from", account.address)
    tx.setdefault("nonce", w3.eth.get_transaction_count(account.address, "pending"))
    tx.setdefault("chainId", CHAIN_ID)
    if "gas" not in tx:
        tx["gas"] = w3.eth.estimate_gas(tx)
    signed = account.sign_transaction(tx)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    return w3.eth.wait_for_transaction_receipt(tx_hash, timeout=10, poll_latency=0.01)


def _deploy(w3: Web3, account: LocalAccount, artifact: dict[str, Any]) -> Any:
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    tx = factory.constructor().build_transaction(
        {"from": account.address, "nonce": w3.eth.get_transaction_count(account.address, "pending")}
    )
    receipt = _send(w3, account, tx)
    assert receipt.status == 1
    return w3.eth.contract(address=receipt.contractAddress, abi=artifact["abi"])


def test_basic_queries(w3: Web3, signer: LocalAccount, users: list[LocalAccount]) -> None:
    assert w3.is_connected()
    assert w3.eth.chain_id == CHAIN_ID
    assert w3.net.version == str(CHAIN_ID)
    assert w3.eth.block_number == 0
    assert w3.eth.get_balance(users[0].address) == 1000 * 10**18
    genesis = w3.eth.get_block(0)
    assert genesis.number == 0 and genesis.difficulty == 1
    assert w3.provider.make_request("clique_getSigners", [])["result"] == [signer.address.lower()]
    assert w3.eth.gas_price > 0 and w3.eth.max_priority_fee > 0
    assert w3.eth.syncing is False


def test_deploy_transact_and_read(
    w3: Web3, users: list[LocalAccount], contract_artifact: dict[str, Any]
) -> None:
    alice, bob = users[0], users[1]
    counter = _deploy(w3, alice, contract_artifact)
    assert counter.functions.owner().call() == alice.address
    assert len(w3.eth.get_code(counter.address)) > 0

    receipt = _send(w3, bob, counter.functions.bump(5).build_transaction({"from": bob.address, "nonce": 0}))
    assert receipt.status == 1
    events = counter.events.Bumped().process_receipt(receipt)
    assert events[0].args.who == bob.address and events[0].args.amount == 5
    assert counter.functions.count().call() == 5

    # the block is a sealed Clique block that web3's POA middleware understands
    block = w3.eth.get_block(receipt.blockNumber, full_transactions=True)
    assert block.transactions[0]["hash"] == receipt.transactionHash
    assert block.difficulty == 2
    assert w3.eth.get_transaction(receipt.transactionHash)["from"] == bob.address
    logs = w3.eth.get_logs({"fromBlock": 0, "toBlock": "latest", "address": counter.address})
    assert len(logs) == 1 and logs[0]["transactionHash"] == receipt.transactionHash
    assert w3.eth.get_block_receipts(receipt.blockNumber)[0]["transactionHash"] == receipt.transactionHash


def test_revert_reason_reaches_web3(
    w3: Web3, users: list[LocalAccount], contract_artifact: dict[str, Any]
) -> None:
    counter = _deploy(w3, users[0], contract_artifact)
    with pytest.raises(ContractLogicError, match="zero amount"):
        counter.functions.bump(0).call({"from": users[1].address})
    with pytest.raises(ContractLogicError, match="zero amount"):
        counter.functions.bump(0).estimate_gas({"from": users[1].address})


def test_many_transactions_in_order(
    w3: Web3, users: list[LocalAccount], contract_artifact: dict[str, Any]
) -> None:
    alice = users[0]
    counter = _deploy(w3, alice, contract_artifact)
    start = w3.eth.get_transaction_count(alice.address)
    hashes = []
    for i in range(20):
        tx = counter.functions.bump(1).build_transaction(
            {"from": alice.address, "nonce": start + i, "gas": 100_000, "chainId": CHAIN_ID}
        )
        hashes.append(w3.eth.send_raw_transaction(alice.sign_transaction(tx).raw_transaction))
    receipts = [w3.eth.wait_for_transaction_receipt(h, timeout=10, poll_latency=0.01) for h in hashes]
    assert all(r.status == 1 for r in receipts)
    assert counter.functions.count().call() == 20
    numbers = [r.blockNumber for r in receipts]
    assert numbers == sorted(numbers)
    timestamps = [w3.eth.get_block(n).timestamp for n in range(1, w3.eth.block_number + 1)]
    assert all(b > a for a, b in itertools.pairwise(timestamps))


def test_filters(w3: Web3, users: list[LocalAccount], contract_artifact: dict[str, Any]) -> None:
    counter = _deploy(w3, users[0], contract_artifact)
    block_filter = w3.eth.filter("latest")
    log_filter = counter.events.Bumped.create_filter(from_block="latest")
    receipt = _send(
        w3, users[1], counter.functions.bump(7).build_transaction({"from": users[1].address, "nonce": 0})
    )
    assert receipt.blockHash in block_filter.get_new_entries()
    entries = log_filter.get_new_entries()
    assert [e.args.amount for e in entries] == [7]
    assert log_filter.get_new_entries() == []
    assert w3.eth.uninstall_filter(block_filter.filter_id)


def test_nonce_too_low_is_a_clean_error(w3: Web3, users: list[LocalAccount]) -> None:
    alice = users[2]
    tx = {
        "to": users[3].address,
        "value": 1,
        "gas": 21000,
        "maxFeePerGas": 10**10,
        "maxPriorityFeePerGas": 1,
        "nonce": 0,
        "chainId": CHAIN_ID,
    }
    _send(w3, alice, dict(tx))
    response = w3.provider.make_request(
        "eth_sendRawTransaction", ["0x" + alice.sign_transaction(tx).raw_transaction.hex()]
    )
    assert response["error"]["code"] == -32000
    assert "nonce too low" in response["error"]["message"]
