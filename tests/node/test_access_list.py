"""eth_createAccessList: geth's tracer rules (slots, touched addresses, exclusions, order) and its gas figure."""

from __future__ import annotations

from typing import Any

import pytest
import vyper
from eth_account.signers.local import LocalAccount
from web3 import Web3

from .conftest import CHAIN_ID

CALLER = """
# pragma version ^0.4.0
interface Other:
    def count() -> uint256: view

total: public(uint256)

@external
def touch(other: address, probe: address) -> uint256:
    self.total += staticcall Other(other).count() + probe.balance
    return self.total

@external
def fail():
    raise "nope"
"""
ECRECOVER = "0x0000000000000000000000000000000000000001"


def _deploy(w3: Web3, account: LocalAccount, abi: list[Any], bytecode: str, nonce: int) -> Any:
    tx = (
        w3.eth.contract(abi=abi, bytecode=bytecode)
        .constructor()
        .build_transaction({"from": account.address, "nonce": nonce, "chainId": CHAIN_ID, "gas": 1_000_000})
    )
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction)
    )
    return w3.eth.contract(address=receipt["contractAddress"], abi=abi)


@pytest.fixture
def contracts(w3: Web3, users: list[LocalAccount], contract_artifact: dict[str, Any]) -> tuple[Any, Any]:
    out = vyper.compile_code(CALLER, output_formats=["abi", "bytecode"])
    other = _deploy(w3, users[0], contract_artifact["abi"], contract_artifact["bytecode"], 0)
    caller = _deploy(w3, users[0], out["abi"], out["bytecode"], 1)
    return other, caller


def _create(w3: Web3, tx: dict[str, Any]) -> dict[str, Any]:
    reply = w3.provider.make_request("eth_createAccessList", [tx, "latest"])  # type: ignore[arg-type]
    assert "error" not in reply, reply
    return reply["result"]


def _lower(address: str) -> str:
    return address.lower()


def test_create_access_list__call__lists_touched_slots_and_addresses(
    w3: Web3, users: list[LocalAccount], contracts: tuple[Any, Any]
) -> None:
    other, caller = contracts
    probe = users[3].address
    data = caller.encode_abi("touch", [other.address, probe])
    result = _create(w3, {"from": users[1].address, "to": caller.address, "data": data})
    expected = sorted(
        [
            # `to` is excluded as an address but listed for its storage (geth's rule): slot 0 = total
            {"address": _lower(caller.address), "storageKeys": ["0x" + "00" * 32]},
            {"address": _lower(other.address), "storageKeys": ["0x" + "00" * 31 + "01"]},  # count
            {"address": _lower(probe), "storageKeys": []},  # BALANCE
        ],
        key=lambda e: e["address"],
    )
    assert result["accessList"] == expected
    assert "error" not in result


def test_create_access_list__gas_used__matches_the_receipt_of_the_listed_transaction(
    w3: Web3, users: list[LocalAccount], contracts: tuple[Any, Any]
) -> None:
    other, caller = contracts
    sender = users[1]
    data = caller.encode_abi("touch", [other.address, users[3].address])
    result = _create(w3, {"from": sender.address, "to": caller.address, "data": data})
    tx = {
        "to": caller.address,
        "data": data,
        "gas": 200_000,
        "maxFeePerGas": 10**10,
        "maxPriorityFeePerGas": 1,
        "nonce": 0,
        "chainId": CHAIN_ID,
        "accessList": result["accessList"],
    }
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(sender.sign_transaction(tx).raw_transaction)
    )
    assert receipt["status"] == 1
    assert receipt["gasUsed"] == int(result["gasUsed"], 16)


def test_create_access_list__value_transfer__is_empty(w3: Web3, users: list[LocalAccount]) -> None:
    result = _create(w3, {"from": users[1].address, "to": users[2].address, "value": hex(10)})
    assert result == {"accessList": [], "gasUsed": hex(21_000)}


def test_create_access_list__sender_and_precompiles__are_not_listed(
    w3: Web3, users: list[LocalAccount], contracts: tuple[Any, Any]
) -> None:
    other, caller = contracts
    sender = users[1].address
    data = caller.encode_abi("touch", [other.address, ECRECOVER])
    given = [{"address": sender, "storageKeys": []}]
    result = _create(w3, {"from": sender, "to": caller.address, "data": data, "accessList": given})
    listed = {e["address"] for e in result["accessList"]}
    assert _lower(sender) not in listed
    assert ECRECOVER not in listed
    assert _lower(other.address) in listed


def test_create_access_list__reverting_call__reports_the_error_beside_the_list(
    w3: Web3, users: list[LocalAccount], contracts: tuple[Any, Any]
) -> None:
    _other, caller = contracts
    result = _create(
        w3, {"from": users[1].address, "to": caller.address, "data": caller.encode_abi("fail", [])}
    )
    assert "nope" in result["error"]
    assert result["accessList"] == []
    assert int(result["gasUsed"], 16) > 21_000


def test_create_access_list__bad_params__invalid_params(w3: Web3) -> None:
    reply = w3.provider.make_request("eth_createAccessList", [])  # type: ignore[arg-type]
    assert reply["error"]["code"] == -32602
