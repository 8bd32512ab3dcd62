"""EIP-7623 (Prague): a transaction's gas limit must cover its calldata floor, 21,000 + 10 gas per calldata
token (a zero byte is one token, any other byte four). geth refuses one below it from the pool, in a block and
in a call ("insufficient gas for floor data gas cost"); py-evm only charges the floor, so a limit below it was
admitted and its sender charged past the limit. The node enforces it as geth does, and its estimate is never
below the floor."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from hypothesis import given, settings
from hypothesis import strategies as st
from pamchain.node import load_genesis, make_genesis
from pamchain.node.chain import Chain, importing
from pamchain.node.chain.calldata_floor import data_floor_gas
from pamchain.node.errors import TransactionRejected
from pamchain.node.service import NodeHandle
from pamchain.node.storage import open_store
from web3 import Web3

from .conftest import CHAIN_ID, ETHER, assert_refused_on_import, ours_and_lax, rpc

RECIPIENT = "0x" + "22" * 20
DATA = b"\x01" * 1000  # 4,000 tokens: intrinsic 21,000 + 16 * 1,000 = 37,000; floor 21,000 + 40,000 = 61,000
INTRINSIC, FLOOR = 37_000, 61_000


def _transfer(sender: LocalAccount, gas: int, nonce: int = 0, data: bytes = DATA) -> bytes:
    tx: dict[str, Any] = {
        "to": RECIPIENT,
        "value": 1,
        "gas": gas,
        "data": data,
        "maxFeePerGas": 10**10,
        "maxPriorityFeePerGas": 1,
        "nonce": nonce,
        "chainId": CHAIN_ID,
    }
    return bytes(sender.sign_transaction(tx).raw_transaction)


def test_send__limit_between_intrinsic_gas_and_floor__refused_and_nonce_kept(
    node: NodeHandle, w3: Web3, users: list[LocalAccount]
) -> None:
    reply = rpc(w3, "eth_sendRawTransaction", "0x" + _transfer(users[0], FLOOR - 1).hex())
    assert reply["error"]["code"] == -32000, reply
    assert reply["error"]["message"] == (
        f"insufficient gas for floor data gas cost: gas {FLOOR - 1}, minimum needed {FLOOR}"
    )
    # Nothing was pooled: the same nonce goes through with the floor as its limit, charged exactly that.
    sent = rpc(w3, "eth_sendRawTransaction", "0x" + _transfer(users[0], FLOOR).hex())
    assert "error" not in sent, sent
    receipt = w3.eth.wait_for_transaction_receipt(sent["result"], timeout=30)
    assert receipt["status"] == 1 and receipt["gasUsed"] == FLOOR


def test_estimate__calldata_heavy_transfer__the_floor_not_the_intrinsic_gas(
    node: NodeHandle, w3: Web3, users: list[LocalAccount]
) -> None:
    call = {"from": users[0].address, "to": RECIPIENT, "value": hex(1), "data": "0x" + DATA.hex()}
    assert int(rpc(w3, "eth_estimateGas", call)["result"], 16) == FLOOR
    # A call below the floor is refused as geth refuses it; at the floor it runs.
    low = rpc(w3, "eth_call", {**call, "gas": hex(FLOOR - 1)}, "latest")
    assert "insufficient gas for floor data gas cost" in low["error"]["message"], low
    assert rpc(w3, "eth_call", {**call, "gas": hex(FLOOR)}, "latest")["result"] == "0x"


def test_estimate__short_calldata__the_floor_of_its_tokens(
    node: NodeHandle, w3: Web3, users: list[LocalAccount]
) -> None:
    """One non-zero byte: intrinsic gas 21,016, floor 21,040; no calldata: both 21,000."""
    call = {"from": users[0].address, "to": RECIPIENT, "value": hex(1)}
    assert int(rpc(w3, "eth_estimateGas", {**call, "data": "0x01"})["result"], 16) == 21_040
    assert int(rpc(w3, "eth_estimateGas", call)["result"], 16) == 21_000


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300))
def test_floor__matches_eip_7623(data: bytes) -> None:
    vm_class = _chain_vm_classes()["prague"]
    tokens = data.count(0) + 4 * (len(data) - data.count(0))
    assert data_floor_gas(vm_class, data) == 21_000 + 10 * tokens
    assert data_floor_gas(_chain_vm_classes()["cancun"], data) == 0  # no floor before Prague


_CHAIN: list[Chain] = []


def _chain_vm_classes() -> dict[str, Any]:
    if not _CHAIN:
        _CHAIN.append(Chain(load_genesis(make_genesis([RECIPIENT], CHAIN_ID, {})), open_store(None)))
    return _CHAIN[0]._vm_classes


@pytest.fixture
def two_chains(signer: LocalAccount, users: list[LocalAccount]) -> Iterator[tuple[Chain, Chain]]:
    with ours_and_lax(signer, {users[0].address: 1000 * ETHER}, "with_calldata_floor") as pair:
        yield pair


def test_import__block_with_a_limit_below_the_floor__refused(
    two_chains: tuple[Chain, Chain],
    signer: LocalAccount,
    users: list[LocalAccount],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ours, lax = two_chains
    raw = _transfer(users[0], INTRINSIC + 1000)
    with pytest.raises(TransactionRejected, match="insufficient gas for floor data gas cost"):
        ours.decode_transaction(raw)
    with monkeypatch.context() as patch:  # the lax validator's pool lacks the rule too
        patch.setattr(importing, "data_floor_gas", lambda vm_class, data: 0)
        pooled = lax.decode_transaction(raw)
    # The lax VM charges the floor past the limit; the node refuses the block.
    assert_refused_on_import(ours, lax, signer, pooled, "insufficient gas for floor data gas cost")
