"""EIP-3860 (Shanghai on): a contract creation pays 2 gas per 32-byte word of initcode, and its initcode may
be at most 49,152 bytes. geth counts the words in the intrinsic gas and refuses, from the pool, in a block and in
a call, a creation whose limit is below it or whose initcode is too long. py-evm charged the words only during
execution and turned a too-long initcode into an out-of-gas failure: such a creation was admitted, mined and
its sender charged its whole limit. The node refuses both as geth does."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from eth_typing import Hash32
from pamchain.node.chain import Chain, importing
from pamchain.node.errors import InvalidBlock, TransactionRejected
from pamchain.node.service import NodeHandle, run_node
from trie.exceptions import MissingTrieNode
from web3 import Web3

from .conftest import (
    CHAIN_ID,
    ETHER,
    assert_refused_on_import,
    build_on,
    make_web3,
    ours_and_lax,
    rpc,
    signed_transfer,
)

# 1,024 zero bytes of initcode: STOP at once, an empty contract. py-evm's intrinsic gas 53,000 + 4 * 1,024 =
# 57,096; geth's adds 2 * 32 words: 57,160, which is also exactly what the creation costs.
INITCODE = b"\x00" * 1024
PY_EVM_INTRINSIC, INTRINSIC = 57_096, 57_160
LIMIT = 49_152


def _create(sender: LocalAccount, gas: int, nonce: int = 0, data: bytes = INITCODE) -> bytes:
    tx: dict[str, Any] = {
        "data": data,
        "value": 0,
        "gas": gas,
        "maxFeePerGas": 10**10,
        "maxPriorityFeePerGas": 1,
        "nonce": nonce,
        "chainId": CHAIN_ID,
    }
    return bytes(sender.sign_transaction(tx).raw_transaction)


@pytest.mark.parametrize("gas", [PY_EVM_INTRINSIC, INTRINSIC - 1])
def test_send__creation_below_its_initcode_words__refused_and_nonce_kept(
    node: NodeHandle, w3: Web3, users: list[LocalAccount], gas: int
) -> None:
    sender = users[1] if gas == PY_EVM_INTRINSIC else users[2]
    nonce = w3.eth.get_transaction_count(sender.address)
    reply = rpc(w3, "eth_sendRawTransaction", "0x" + _create(sender, gas, nonce).hex())
    assert reply["error"] == {
        "code": -32000,
        "message": f"intrinsic gas too low: gas {gas}, minimum needed {INTRINSIC}",
    }, reply
    # Nothing was pooled: the same nonce goes through at geth's intrinsic gas, charged exactly that.
    sent = rpc(w3, "eth_sendRawTransaction", "0x" + _create(sender, INTRINSIC, nonce).hex())
    assert "error" not in sent, sent
    receipt = w3.eth.wait_for_transaction_receipt(sent["result"], timeout=30)
    assert receipt["status"] == 1 and receipt["gasUsed"] == INTRINSIC
    assert w3.eth.get_transaction_count(sender.address) == nonce + 1


def test_send__initcode_over_the_limit__refused_whatever_the_gas(
    node: NodeHandle, w3: Web3, users: list[LocalAccount]
) -> None:
    sender = users[3]
    nonce = w3.eth.get_transaction_count(sender.address)
    balance = w3.eth.get_balance(sender.address)
    reply = rpc(
        w3, "eth_sendRawTransaction", "0x" + _create(sender, 5_000_000, nonce, b"\0" * (LIMIT + 1)).hex()
    )
    assert reply["error"] == {
        "code": -32000,
        "message": f"max initcode size exceeded: code size {LIMIT + 1}, limit {LIMIT}",
    }, reply
    # At the limit it is a valid creation.
    sent = rpc(w3, "eth_sendRawTransaction", "0x" + _create(sender, 5_000_000, nonce, b"\0" * LIMIT).hex())
    receipt = w3.eth.wait_for_transaction_receipt(sent["result"], timeout=30)
    # It pays the larger of its intrinsic gas and (Prague) its calldata floor, here the floor.
    intrinsic, floor = 53_000 + 4 * LIMIT + 2 * LIMIT // 32, 21_000 + 10 * LIMIT
    assert receipt["status"] == 1 and receipt["gasUsed"] == max(intrinsic, floor) == floor
    assert w3.eth.get_balance(sender.address) < balance


def test_call_and_estimate__creation__geth_intrinsic_gas_and_limit(
    w3: Web3, users: list[LocalAccount]
) -> None:
    call = {"from": users[0].address, "data": "0x" + INITCODE.hex()}
    assert int(rpc(w3, "eth_estimateGas", call)["result"], 16) == INTRINSIC
    low = rpc(w3, "eth_call", {**call, "gas": hex(INTRINSIC - 1)}, "latest")
    assert low["error"]["message"] == f"intrinsic gas too low: have {INTRINSIC - 1}, want {INTRINSIC}", low
    assert rpc(w3, "eth_call", {**call, "gas": hex(INTRINSIC)}, "latest")["result"] == "0x"
    big = {**call, "data": "0x" + bytes(LIMIT + 1).hex(), "gas": hex(5_000_000)}
    for method, params in (("eth_call", [big, "latest"]), ("eth_estimateGas", [big])):
        reply = rpc(w3, method, *params)
        assert (
            reply["error"]["message"] == f"max initcode size exceeded: code size {LIMIT + 1} limit {LIMIT}"
        ), (
            method,
            reply,
        )


@pytest.fixture
def two_chains(signer: LocalAccount, users: list[LocalAccount]) -> Iterator[tuple[Chain, Chain]]:
    with ours_and_lax(
        signer, {user.address: 1000 * ETHER for user in users[:2]}, "with_initcode_rules"
    ) as pair:
        yield pair


def test_import__block_with_a_creation_below_geth_intrinsic_gas__refused(
    two_chains: tuple[Chain, Chain],
    signer: LocalAccount,
    users: list[LocalAccount],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ours, lax = two_chains
    raw = _create(users[0], PY_EVM_INTRINSIC)
    with pytest.raises(TransactionRejected, match="intrinsic gas too low"):
        ours.decode_transaction(raw)
    with monkeypatch.context() as patch:  # the lax validator's pool lacks the rule too
        patch.setattr(importing, "intrinsic_gas", lambda vm_class, tx: tx.intrinsic_gas)
        pooled = lax.decode_transaction(raw)
    # The lax VM runs it out of gas and charges the sender its whole limit; the node refuses the block.
    assert_refused_on_import(ours, lax, signer, pooled, "intrinsic gas too low: have 57096, want 57160")


def test_build__transaction_py_evm_raises_on__dropped__the_others_sealed(
    two_chains: tuple[Chain, Chain],
    signer: LocalAccount,
    users: list[LocalAccount],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """py-evm raises OutOfGas for an over-long initcode before its computation starts. That failed the whole
    block, and the sealer retried the same pool every half second: one admitted transaction stopped the chain.
    A transaction whose execution raises is now dropped with its reason, and the block goes on without it."""
    _ours, lax = two_chains
    with monkeypatch.context() as patch:  # admitted by a pool without the rule
        patch.setattr(importing, "initcode_error", lambda vm_class, tx, pool=False: None)
        poisoned = lax.decode_transaction(_create(users[0], 5_000_000, data=bytes(LIMIT + 1)))
    transfer = lax.decode_transaction(signed_transfer(users[1]))
    built = build_on(lax, signer, [poisoned, transfer])
    assert built.included == (transfer.hash,)
    assert [(h, reason.split(":")[0]) for h, reason in built.dropped] == [
        (poisoned.hash, "transaction failed in the VM")
    ]
    assert "OutOfGas" in built.dropped[0][1]
    assert lax.head.block_number == 1


def test_build__transaction_refused_once_the_block_started__dropped__the_others_sealed(
    two_chains: tuple[Chain, Chain], signer: LocalAccount, users: list[LocalAccount]
) -> None:
    """The sender's first transaction spends nearly all it has; its second can no longer pay. py-evm refuses
    the second after its VM has locked the block's changes, which dropped the snapshot the builder took before:
    reverting it raised "No checkpoint ... was found" and failed the whole block, every retry alike."""
    ours, _lax = two_chains
    spend = ours.decode_transaction(signed_transfer(users[0], value=1000 * ETHER - 21_000 * 10**10))
    broke = ours.decode_transaction(signed_transfer(users[0], nonce=1))
    other = ours.decode_transaction(signed_transfer(users[1]))
    built = build_on(ours, signer, [spend, broke, other])
    assert built.included == (spend.hash, other.hash)
    assert [h for h, _reason in built.dropped] == [broke.hash]
    assert "insufficient funds for gas * price + value" in built.dropped[0][1]
    assert ours.head.block_number == 1


def test_node__delegation_spends_a_pooled_nonce__dropped__the_chain_keeps_sealing(
    genesis_factory: Callable[..., dict[str, Any]], signer: LocalAccount, users: list[LocalAccount]
) -> None:
    """Any permitted user could stop the chain: B's EIP-7702 transaction carries A's authorization, which takes
    A's nonce 0; A's own transaction of nonce 0, admitted to the pool just before, is then refused once the block
    has started. The builder's revert failed ("No checkpoint ... was found"), the block failed, and every retry
    failed on the same pool. Now A's transaction is dropped and the block sealed without it."""
    a, b, c = users[3], users[4], users[5]
    with run_node(genesis_factory(period=1), signer.key, seal_mode="period", period=3600) as handle:
        w3 = make_web3(handle.url)  # blocks only when the test seals one
        auth = a.sign_authorization({"chainId": CHAIN_ID, "address": "0x" + "de" * 20, "nonce": 0})
        delegation: dict[str, Any] = {
            "to": a.address,
            "value": 0,
            "gas": 100_000,
            "maxFeePerGas": 10**10,
            "maxPriorityFeePerGas": 10,  # first in the block
            "nonce": 0,
            "chainId": CHAIN_ID,
            "authorizationList": [auth],
        }
        sent = [
            w3.eth.send_raw_transaction(raw)
            for raw in (
                b.sign_transaction(delegation).raw_transaction,
                signed_transfer(a),
                signed_transfer(c),
            )
        ]
        sealed = handle.seal()
        assert sealed is not None and set(sealed.tx_hashes) == {bytes(sent[0]), bytes(sent[2])}
        assert w3.eth.get_transaction_count(a.address) == 1  # the authorization took it
        assert rpc(w3, "eth_getTransactionByHash", "0x" + bytes(sent[1]).hex())["result"] is None
        assert handle.seal() is not None  # and sealing goes on


def test_build__node_fault_while_a_transaction_runs__block_fails__nothing_dropped(
    two_chains: tuple[Chain, Chain],
    signer: LocalAccount,
    users: list[LocalAccount],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A failure of the node itself (here a trie node missing from storage) is not the transaction's doing: the
    block fails and the transaction stays for the next attempt, which seals it."""
    ours, _lax = two_chains
    transfer = ours.decode_transaction(signed_transfer(users[0]))
    state_class = ours.vm_class_for(1, ours.head.timestamp + 1).get_state_class()

    def broken(self: Any, tx: Any) -> Any:
        raise MissingTrieNode(Hash32(b"\x01" * 32), Hash32(b"\x02" * 32), b"")

    with monkeypatch.context() as patch:
        patch.setattr(state_class, "apply_transaction", broken)
        with pytest.raises(MissingTrieNode):
            build_on(ours, signer, [transfer])
    assert ours.head.block_number == 0
    assert build_on(ours, signer, [transfer]).included == (transfer.hash,)


@pytest.mark.parametrize(
    ("raised", "outcome"),
    [
        (TypeError("py-evm tripped on the transaction"), InvalidBlock),
        (MissingTrieNode(Hash32(b"\x01" * 32), Hash32(b"\x02" * 32), b""), MissingTrieNode),
    ],
)
def test_import__execution_raises__invalid_block_unless_a_node_fault(
    two_chains: tuple[Chain, Chain],
    signer: LocalAccount,
    users: list[LocalAccount],
    monkeypatch: pytest.MonkeyPatch,
    raised: Exception,
    outcome: type[Exception],
) -> None:
    """Import classifies what executing a block raises as the builder does: a block whose transaction makes
    py-evm raise is invalid (an honest builder drops such a transaction); a fault of the node itself is not the
    block's, and the block imports once it is over."""
    ours, lax = two_chains
    built = build_on(lax, signer, [lax.decode_transaction(signed_transfer(users[0]))])
    block = ours.decode_block(lax.encode_block(built.number))
    state_class = ours.vm_class_for(1, block.header.timestamp).get_state_class()

    def broken(self: Any, tx: Any) -> Any:
        raise raised

    with monkeypatch.context() as patch:
        patch.setattr(state_class, "apply_transaction", broken)
        with pytest.raises(outcome) as caught:
            ours.import_block(block)
    if outcome is InvalidBlock:
        assert "executing the block raised TypeError: py-evm tripped" in str(caught.value)
    assert ours.head.block_number == 0
    assert ours.import_block(block) and ours.head.block_number == 1
