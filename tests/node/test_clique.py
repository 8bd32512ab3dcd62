"""Clique: our sealed blocks validate under py-evm's Clique rules; a non-signer's block is refused; seal hash."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import rlp
from eth.consensus.clique import CliqueConsensus
from eth.consensus.clique._utils import get_block_signer
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_keys import keys
from eth_keys.datatypes import PrivateKey
from eth_typing import Address
from pamchain.node import InvalidBlock, load_genesis
from pamchain.node.chain import Chain
from pamchain.node.consensus import seal_delay, seal_hash, seal_header
from pamchain.node.storage import open_store

VECTORS = Path(__file__).parent / "data" / "clique_sealed_headers.json"


def _chain(doc: dict[str, Any]) -> Chain:
    return Chain(load_genesis(doc), open_store(None))


def _key(account: LocalAccount) -> tuple[Address, PrivateKey]:
    key = keys.PrivateKey(account.key)
    return Address(key.public_key.to_canonical_address()), key


def test_sealed_blocks_validate_and_reimport(genesis_factory: Any, signer: LocalAccount) -> None:
    start = int(time.time()) - 100  # past timestamps, so py-evm's stock clock check passes too
    doc = genesis_factory(epoch=3, timestamp=start)
    source = _chain(doc)
    me, key = _key(signer)
    for n in range(1, 8):
        source.build_block([], me, key, timestamp=start + n)
    replica = _chain(doc)
    for n in range(1, 8):
        header = source._header_by_number(n)
        assert get_block_signer(header) == me
        assert header.difficulty == 2
        if n % 3 == 0:  # checkpoint: the signer list is repeated in extraData
            assert header.extra_data[32:-65] == me
        assert replica.import_block(source._evm_block(header))
    assert replica.head.hash == source.head.hash
    assert replica.signers() == (me,)
    # py-evm's own CliqueConsensus (not pamchain's subclass) accepts the chain we sealed.
    stock = CliqueConsensus(replica.consensus_context)
    for n in range(1, 8):
        stock.validate_seal_extension(replica._header_by_number(n), ())


def test_sealing_remembers_the_signer__the_one_recovery_would_find(
    genesis_factory: Any, signer: LocalAccount
) -> None:
    """The sealer's address is remembered for the new header instead of recovered again; what it remembers
    is what ecrecover finds, for the node's key and for any other."""
    from pamchain.node import consensus

    start = int(time.time()) - 100
    source = _chain(genesis_factory(timestamp=start))
    me, key = _key(signer)
    block = source.build_block([], me, key, timestamp=start + 1)
    header = source._header_by_number(block.number)
    assert consensus._SIGNERS[header.hash] == get_block_signer(header) == me
    other = keys.PrivateKey(b"\x07" * 32)
    resealed = seal_header(header, other)
    assert consensus._SIGNERS[resealed.hash] == get_block_signer(resealed) != me


def test_block_sealed_by_non_signer_is_rejected(genesis_factory: Any, signer: LocalAccount) -> None:
    doc = genesis_factory()
    intruder = Account.from_key(b"\x42" * 32)
    outsider_doc = dict(doc, extraData="0x" + "00" * 32 + intruder.address[2:].lower() + "00" * 65)
    rogue = _chain(outsider_doc)
    me, key = _key(intruder)
    # Same parent hash is impossible with a different genesis, so re-seal on the honest genesis instead.
    honest = _chain(doc)
    from pamchain.node import consensus

    parent = honest.head
    vm_class = consensus.sealing_vm_class(honest.vm_class_for(1, parent.timestamp + 1), me)
    header = vm_class.create_header_from_parent(
        parent, timestamp=parent.timestamp + 1, gas_limit=parent.gas_limit
    )
    header = consensus.prepare_header(header, honest.signers(), me, 30000)
    block, _ = honest._execute_block(vm_class, header, [])
    honest.db.discard()
    forged = block.copy(header=consensus.seal_header(block.header, key))
    with pytest.raises(InvalidBlock, match="not in"):
        honest.import_block(forged)
    assert honest.head.block_number == 0
    assert rogue.genesis_hash != honest.genesis_hash


def test_tampered_block_is_rejected(genesis_factory: Any, signer: LocalAccount) -> None:
    doc = genesis_factory()
    source, replica = _chain(doc), _chain(doc)
    me, key = _key(signer)
    source.build_block([], me, key)
    block = source._evm_block(source.head)
    tampered = block.copy(header=block.header.copy(gas_used=1))
    with pytest.raises(InvalidBlock):
        replica.import_block(tampered)


def test_seal_hash_matches_published_vectors() -> None:
    """Real Goerli/Rinkeby headers (pre-London and London): seal hash and recovered signer as published."""
    from eth.rlp.headers import BlockHeader
    from eth.vm.forks.london.blocks import LondonBlockHeader

    vectors = json.loads(VECTORS.read_text())
    checked = 0
    for item in vectors["headers"]:
        if item.get("recovered_signer") is None:
            continue  # genesis headers carry no seal
        items = rlp.decode(bytes.fromhex(item["rlp"].removeprefix("0x")))
        sedes = LondonBlockHeader if len(items) == 16 else BlockHeader
        header = rlp.decode(bytes.fromhex(item["rlp"].removeprefix("0x")), sedes=sedes)
        assert seal_hash(header) == bytes.fromhex(item["seal_hash"].removeprefix("0x")), item["name"]
        assert get_block_signer(header) == bytes.fromhex(item["recovered_signer"].removeprefix("0x"))
        checked += 1
    assert checked > 10


def _forged(chain: Chain, sealer: LocalAccount, txs: list[Any], **header_fields: Any) -> Any:
    """A block on ``chain``'s head sealed by ``sealer`` (executed on a throwaway copy to get its roots)."""
    from pamchain.node import consensus

    me, key = _key(sealer)
    parent = chain.head
    vm_class = consensus.sealing_vm_class(chain.vm_class_for(1, parent.timestamp + 1), me)
    header = vm_class.create_header_from_parent(
        parent, timestamp=parent.timestamp + 1, gas_limit=parent.gas_limit
    )
    header = consensus.prepare_header(header, chain.signers(), me, 30000)
    block, _ = chain._execute_block(vm_class, header, txs)
    chain.db.discard()
    block = block.copy(header=block.header.copy(**header_fields)) if header_fields else block
    return block.copy(header=consensus.seal_header(block.header, key))


def test_forged_block__refused_before_any_execution(
    genesis_factory: Any, signer: LocalAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A peer that is not a signer sends a block: the seal check refuses it; the EVM never runs it."""
    from eth.vm.base import VM

    honest = _chain(genesis_factory())
    intruder = Account.from_key(b"\x42" * 32)
    forged = _forged(honest, intruder, [])
    executed: list[int] = []
    real = VM.import_block
    monkeypatch.setattr(
        VM, "import_block", lambda self, block: executed.append(block.number) or real(self, block)
    )
    with pytest.raises(InvalidBlock, match="not in"):
        honest.import_block(forged)
    assert executed == [] and honest.head.block_number == 0


def test_signer_block_with_a_gas_limit_out_of_bounds__refused_before_execution(
    genesis_factory: Any, signer: LocalAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    from eth.vm.base import VM

    honest = _chain(genesis_factory())
    heavy = _forged(honest, signer, [], gas_limit=honest.head.gas_limit * 4)
    executed: list[int] = []
    real = VM.import_block
    monkeypatch.setattr(
        VM, "import_block", lambda self, block: executed.append(block.number) or real(self, block)
    )
    with pytest.raises(InvalidBlock, match=r"(?i)gas limit"):
        honest.import_block(heavy)
    assert executed == []
    good = _forged(honest, signer, [])
    assert honest.import_block(good) and executed == [1]  # an honest block still runs (once)


def test_period_zero__blocks_sharing_a_second__sealed_and_imported(
    genesis_factory: Any, signer: LocalAccount
) -> None:
    """EIP-225 asks ``parent + period <= timestamp``: with period 0 (seal on demand) a block may share its
    parent's second, so a burst never pushes the chain's time ahead of the clock."""
    start = int(time.time()) - 100
    doc = genesis_factory(period=0, timestamp=start)
    source = _chain(doc)
    me, key = _key(signer)
    for _ in range(3):
        source.build_block([], me, key, timestamp=start + 1)
    assert [source.header_by_number(n).timestamp for n in (1, 2, 3)] == [start + 1] * 3
    replica = _chain(doc)
    for n in (1, 2, 3):
        assert replica.import_block(source._evm_block(source.header_by_number(n)))
    assert replica.head.hash == source.head.hash


def test_period_zero__block_older_than_parent__rejected(genesis_factory: Any, signer: LocalAccount) -> None:
    start = int(time.time()) - 100
    doc = genesis_factory(period=0, timestamp=start)
    source, replica = _chain(doc), _chain(doc)
    me, key = _key(signer)
    source.build_block([], me, key, timestamp=start + 5)
    source.build_block([], me, key, timestamp=start + 5)
    assert replica.import_block(source._evm_block(source.header_by_number(1)))
    second = source._evm_block(source.header_by_number(2))
    forged = second.copy(header=seal_header(second.header.copy(timestamp=start + 4), key))
    with pytest.raises(InvalidBlock, match="timestamp"):
        replica.import_block(forged)


def test_period_one__block_sharing_its_parents_second__rejected(
    genesis_factory: Any, signer: LocalAccount
) -> None:
    """A chain whose genesis has a period keeps strictly increasing timestamps (what py-evm and geth ask)."""
    start = int(time.time()) - 100
    doc = genesis_factory(period=1, timestamp=start)
    zero = _chain(genesis_factory(period=0, timestamp=start))
    me, key = _key(signer)
    zero.build_block([], me, key, timestamp=start + 1)
    zero.build_block([], me, key, timestamp=start + 1)
    replica = _chain(doc)
    first, second = (zero._evm_block(zero.header_by_number(n)) for n in (1, 2))
    # The period-0 chain's genesis hash differs (its config is not in the header): re-parent onto this one.
    one = first.copy(header=seal_header(first.header.copy(parent_hash=replica.head.hash), key))
    assert replica.import_block(one)
    two = second.copy(header=seal_header(second.header.copy(parent_hash=one.header.hash), key))
    with pytest.raises(InvalidBlock, match="timestamp"):
        replica.import_block(two)


def test_seal_delay__in_turn_at_once__a_barred_in_turn_signer_stood_in_for_at_once() -> None:
    """Who seals block ``n`` when: the in-turn signer at once; if it sealed too recently, the next signer in
    the rotation at once (not after a random wiggle); every other eligible signer half a second per rank
    later, so no two out-of-turn signers race with the same delay."""
    a, b, c, d = (bytes([i]) * 20 for i in (1, 2, 3, 4))
    signers = [c, a, d, b]  # rotation by sorted address: a, b, c, d
    assert [seal_delay(signers, s, 4) for s in (a, b, c, d)] == [0.0, 0.5, 1.0, 1.5]
    assert [seal_delay(signers, s, 5) for s in (b, c, d, a)] == [0.0, 0.5, 1.0, 1.5]
    # b (in turn for 5) sealed 4: c stands in at once, d and a follow by rank among the eligible.
    assert [seal_delay(signers, s, 5, barred={b}) for s in (c, d, a)] == [0.0, 0.5, 1.0]
    assert seal_delay(signers, bytes(20), 5) == 0.0  # not a signer: nothing to rank
    for n in range(12):  # any block, any barred set: eligible signers never share a delay
        for barred in ({a}, {a, b}, {c, d}, set()):
            delays = [seal_delay(signers, s, n, barred) for s in signers if s not in barred]
            assert len(set(delays)) == len(delays) and min(delays) == 0.0
