"""The optimised build path (bulk storage tries, one-pass tries, packing by gas used, shallow block copies,
admission's sender recovery) against plain py-evm, block by block: same blocks, roots, receipts and logs; and
other nodes, optimised or plain, import the blocks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_keys import keys
from eth_typing import Address
from pamchain.node import contract_address, load_genesis, make_genesis
from pamchain.node.chain import Chain, base
from pamchain.node.chain.base import evm_transaction
from pamchain.node.storage import open_store
from web3 import Web3

from .conftest import CHAIN_ID, ETHER

GAS_LIMIT = 3_000_000  # small, so that one block of calls fills by gas used
CALL_GAS = 200_000  # declared per call; a bump uses about a fifth of it
# Init code that writes slot 0 and self-destructs in the same transaction (EIP-6780: the account and its storage
# go): py-evm's storage-trie reset and, on a revert, its rollback.
SELF_DESTRUCTING = bytes.fromhex("600160005533ff")


def _plain_chain(genesis: Any, monkeypatch: pytest.MonkeyPatch) -> Chain:
    """A chain on stock py-evm VM classes: no bulk storage, no one-pass tries, no fast validation."""
    with monkeypatch.context() as patch:
        patch.setattr(base, "with_fast_tries", lambda vm_class: vm_class)
        return Chain(genesis, open_store(None))


class Sender:
    """Signs transactions for one account with its own nonce count."""

    def __init__(self, account: LocalAccount) -> None:
        self.account = account
        self.nonce = 0

    def tx(self, to: bytes | None = None, data: bytes = b"", value: int = 0, gas: int = CALL_GAS) -> bytes:
        fields: dict[str, Any] = {
            "data": data,
            "gas": gas,
            "maxFeePerGas": 100 * 10**9,
            "maxPriorityFeePerGas": 1,
            "nonce": self.nonce,
            "chainId": CHAIN_ID,
            "value": value,
        }
        if to is not None:
            fields["to"] = Web3.to_checksum_address(to)
        self.nonce += 1
        return bytes(self.account.sign_transaction(fields).raw_transaction)


@pytest.fixture
def chains(
    signer: LocalAccount, users: list[LocalAccount], monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Chain, Chain]]:
    genesis = load_genesis(
        make_genesis(
            [signer.address], CHAIN_ID, {u.address: 1000 * ETHER for u in users}, gas_limit=GAS_LIMIT
        )
    )
    fast, plain = Chain(genesis, open_store(None)), _plain_chain(genesis, monkeypatch)
    # Forks are configured when first used, long after the patch above: "cancun" (before this genesis) too
    # must come out plain on the plain chain, or the comparison across a fork would be fast against fast.
    assert not dict.__contains__(plain._vm_classes, "cancun")
    for fork in ("prague", "cancun"):
        assert type(fast._vm_classes[fork].get_state_class().get_account_db_class()).__name__ != "AccountDB"
        assert plain._vm_classes[fork].get_state_class().get_account_db_class().__name__ == "AccountDB"
    yield fast, plain
    for chain in (fast, plain):
        chain.store.close()


def test_optimised_blocks__identical_to_plain_py_evm__and_imported_by_both(
    chains: tuple[Chain, Chain],
    signer: LocalAccount,
    users: list[LocalAccount],
    contract_artifact: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fast, plain = chains
    owner, *others = (Sender(u) for u in users)
    contract = Web3().eth.contract(abi=contract_artifact["abi"])
    target = contract_address(bytes.fromhex(owner.account.address[2:]), 0)
    destructed = contract_address(bytes.fromhex(others[0].account.address[2:]), 0)

    def call(sender: Sender, fn: str, *args: Any, gas: int = CALL_GAS) -> bytes:
        return sender.tx(target, bytes.fromhex(contract.encode_abi(fn, list(args))[2:]), gas=gas)

    stranger = Account.create().address
    blocks: list[list[bytes]] = [
        [  # contract creation, a creation that self-destructs, value transfers
            owner.tx(data=bytes.fromhex(contract_artifact["bytecode"].removeprefix("0x")), gas=1_000_000),
            others[0].tx(data=SELF_DESTRUCTING, gas=100_000),
            others[1].tx(bytes.fromhex(stranger[2:]), value=ETHER),
            others[2].tx(bytes.fromhex(others[3].account.address[2:]), value=3 * ETHER),
        ],
        [  # grants-like writes and events from several senders, reverts, new storage slots
            *(call(s, "bump", n + 1) for n in range(3) for s in others),
            call(others[3], "bump", 0),  # reverts: "zero amount"
            call(owner, "allow", others[4].account.address, True),
            call(owner, "allow", others[3].account.address, True),
            call(others[2], "allow", others[2].account.address, True),  # reverts: not the owner
            others[4].tx(bytes.fromhex(stranger[2:]), value=1),
        ],
        [  # a slot set back to zero (a storage-trie deletion), more writes
            call(owner, "allow", others[4].account.address, False),
            *(call(s, "bump", 7) for s in others[:3]),
        ],
        # calls declaring 200,000 gas and using about 28,000: more go in than their limits add up to, and the
        # block fills by gas used; the rest goes into the next block
        [call(s, "bump", 1) for _ in range(24) for s in others],
    ]

    me = Address(bytes.fromhex(signer.address[2:]))
    key = keys.PrivateKey(signer.key)
    start = fast.head.timestamp
    timestamp = start
    pending: dict[str, list[bytes]] = {"fast": [], "plain": []}
    included = []
    for raws in [*blocks, []]:  # the last round seals what the full block left over
        timestamp += 1
        results = {}
        for name, chain in (("fast", fast), ("plain", plain)):
            pending[name] += raws
            candidates = [chain.decode_transaction(raw) for raw in pending[name]]
            results[name] = chain.build_block(candidates, me, key, timestamp=timestamp)
            done = set(results[name].included)
            pending[name] = [
                raw for raw, c in zip(pending[name], candidates, strict=True) if c.hash not in done
            ]
        assert results["fast"] == results["plain"]
        assert results["fast"].dropped == ()
        assert fast.head == plain.head  # every header field: state, transaction and receipt roots, bloom, gas
        assert fast.block_receipts(fast.head_record()) == plain.block_receipts(
            plain.head_record()
        )  # status, gas, logs
        included.append(len(results["fast"].included))

    full = fast.header_by_number(4)
    assert included[3] > GAS_LIMIT // CALL_GAS  # more than packing by declared gas would have let in
    assert full.gas_used + CALL_GAS > GAS_LIMIT and included[4] > 0  # full by gas used; the rest came next
    receipts = fast.block_receipts(fast.header_by_number(2))
    assert [r.status for r in receipts].count(0) == 2  # the two reverts
    assert sum(len(r.logs) for r in receipts) == 3 * len(others)  # one event per successful bump
    assert (
        fast.code(destructed, fast.head_record()) == b""
        and fast.storage_at(destructed, 0, fast.head_record()) == 0
    )
    for slot in range(4):
        assert fast.storage_at(target, slot, fast.head_record()) == plain.storage_at(
            target, slot, plain.head_record()
        )

    # Import: another optimised node and a plain one take the optimised blocks, from their RLP.
    genesis = fast.genesis
    for importer in (Chain(genesis, open_store(None)), _plain_chain(genesis, monkeypatch)):
        for number in range(1, fast.head.block_number + 1):
            assert importer.import_block(importer.decode_block(fast.encode_block(number)))
        assert importer.head == fast.head
        importer.store.close()


def test_admission_prepared_off_thread__same_record_as_on_the_chain_thread(
    chains: tuple[Chain, Chain], users: list[LocalAccount]
) -> None:
    fast, plain = chains
    raw = Sender(users[0]).tx(bytes(20), value=5)
    prepared = fast.prepare_transaction(raw)
    on_thread = plain.decode_transaction(raw)
    record = fast.admissible(prepared)
    assert (record.hash, record.sender, record.cost, record.raw) == (
        on_thread.hash,
        on_thread.sender,
        on_thread.cost,
        on_thread.raw,
    )
    stock = plain.vm_class_for(1, fast.head.timestamp + 1).get_transaction_builder().decode(raw)
    evm = evm_transaction(record)
    assert evm.hash == stock.hash and evm.sender == stock.sender  # what execution reads
