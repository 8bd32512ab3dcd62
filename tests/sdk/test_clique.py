"""The SDK's Clique rules (sdk/chain/clique.py) on real headers and on blocks sealed by pamchain's node.

Real Goerli/Rinkeby headers (tests/node/data/clique, see its PROVENANCE.json) check hashing and seals; the
24 EIP-225/geth voting scenarios are sealed by the node's own block builder (Prague-shaped headers, votes in
coinbase/nonce) and replayed through :class:`Snapshot`, which must reach the node's signer set or refuse
the offending block with geth's error. Then one negative test per rule.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import rlp
from eth_keys.datatypes import PrivateKey
from eth_typing import Address
from eth_utils import ValidationError, keccak
from pamchain.node import make_genesis
from pamchain.node.chain import Chain
from pamchain.node.consensus import Vote as NodeVote
from pamchain.node.consensus import prepare_header, seal_header
from pamchain.node.genesis import load_genesis
from pamchain.node.storage import open_store
from pamchain.sdk.chain.chain_check import HEADER_FIELDS, header_hash, seal_hash, seal_signer
from pamchain.sdk.chain.clique import BadHeader, Snapshot, UnlinkedHeader

DATA = Path(__file__).resolve().parents[1] / "node" / "data" / "clique"
VOTING = json.loads((DATA / "voting_cases.json").read_text())
SEALED = json.loads((DATA / "sealed_headers.json").read_text())
ERRORS = {"errUnauthorizedSigner": "unauthorized signer", "errRecentlySigned": "recently signed"}
ZERO = b"\0" * 20


def key(label: str) -> PrivateKey:
    return PrivateKey(keccak(b"clique-voting-" + label.encode()))


def address(label: str | None) -> Address:
    return Address(ZERO if label is None else key(label).public_key.to_canonical_address())


def as_json(header: Any) -> dict[str, Any]:
    """A py-evm header as JSON-RPC serves it (field names from its RLP position)."""
    return rlp_json(rlp.encode(header))


def rlp_json(encoded: bytes) -> dict[str, Any]:
    """An RLP-encoded header as JSON-RPC serves it."""
    items = rlp.decode(encoded)
    out: dict[str, Any] = {}
    for (name, kind), raw in zip(HEADER_FIELDS, items, strict=False):
        out[name] = hex(int.from_bytes(raw, "big")) if kind == "int" else "0x" + bytes(raw).hex()
    out["hash"] = "0x" + keccak(encoded).hex()
    return out


def block_json(chain: Chain, number: int | None = None) -> dict[str, Any]:
    """Block ``number`` of ``chain`` (default: the head) as JSON-RPC serves its header."""
    block = chain.head_record() if number is None else chain.header_by_number(number)
    return rlp_json(chain.raw_header(block))


def reseal(block: dict[str, Any], signer: PrivateKey, **fields: str) -> dict[str, Any]:
    """``block`` with ``fields`` changed, sealed again by ``signer`` (a faulty or colluding signer)."""
    changed = dict(block, **fields)
    extra = bytes.fromhex(changed["extraData"][2:])[:-65] + b"\0" * 65
    changed["extraData"] = "0x" + extra.hex()
    signature = signer.sign_msg_hash(seal_hash(changed)).to_bytes()
    changed["extraData"] = "0x" + (extra[:-65] + signature).hex()
    changed["hash"] = "0x" + header_hash(changed).hex()
    return changed


def node_chain(signers: list[str], epoch: int = 30_000) -> tuple[Chain, int]:
    start = int(time.time()) - 10_000  # blocks one second apart, well behind the clock
    doc = make_genesis([address(s) for s in signers], 1337, {}, epoch=epoch, timestamp=start)
    return Chain(load_genesis(doc), open_store(None)), start


def genesis_snapshot(chain: Chain, epoch: int) -> Snapshot:
    return Snapshot.at_checkpoint(block_json(chain, 0), epoch)


# -- real headers --------------------------------------------------------------------------------------


def _sealed(network: str) -> list[dict[str, Any]]:
    return [h for h in SEALED["headers"] if h["network"] == network]


@pytest.mark.parametrize(("network", "count"), [("goerli", 8), ("rinkeby", 6)])
def test_real_chain__genesis_and_following_blocks__verified(network: str, count: int) -> None:
    items = _sealed(network)[:count]
    snapshot = Snapshot.at_checkpoint(items[0]["header"], 30_000)
    assert "0x" + snapshot.hash.hex() == items[0]["computed_hash"]
    for item in items[1:]:
        snapshot, header = snapshot.verify(item["header"])
        assert "0x" + header.signer.hex() == item["recovered_signer"].lower()
        assert "0x" + header.hash.hex() == item["computed_hash"]
    assert snapshot.number == count - 1


def test_real_chain__block_sealed_by_someone_else__unauthorized() -> None:
    goerli, rinkeby = _sealed("goerli"), _sealed("rinkeby")
    # Rinkeby's block 1 presented as Goerli's: right shape, wrong chain and signer.
    snapshot = Snapshot.at_checkpoint(goerli[0]["header"], 30_000)
    forged = dict(rinkeby[1]["header"], parentHash=goerli[0]["computed_hash"])
    with pytest.raises(BadHeader, match="unauthorized signer"):
        snapshot.verify(forged)


def test_real_chain__rinkeby_block_out_of_place__does_not_link() -> None:
    rinkeby = _sealed("rinkeby")
    snapshot = Snapshot.at_checkpoint(rinkeby[0]["header"], 30_000)
    snapshot, _ = snapshot.verify(rinkeby[1]["header"])
    with pytest.raises(UnlinkedHeader, match="does not link"):
        snapshot.verify(dict(rinkeby[3]["header"], number=rinkeby[2]["header"]["number"]))


# -- voting scenarios sealed by the node ----------------------------------------------------------------


def _forge(chain: Chain, signer: PrivateKey, timestamp: int, vote: NodeVote | None, epoch: int) -> Any:
    """The block the node refused to build, sealed anyway (as a faulty signer would)."""
    parent = chain.head
    vm_class = chain.vm_class_for(parent.block_number + 1, timestamp)
    header = vm_class.create_header_from_parent(parent, timestamp=timestamp, gas_limit=parent.gas_limit)
    address_ = signer.public_key.to_canonical_address()
    return seal_header(prepare_header(header, chain.signers(), address_, epoch, vote=vote), signer)


@pytest.mark.parametrize("case", VOTING["cases"], ids=lambda c: f"{c['id']:02d}")
def test_voting_case__node_sealed_blocks__same_signers_as_node(case: dict[str, Any]) -> None:
    epoch = case["epoch"]
    chain, start = node_chain(case["signers"], epoch)
    snapshot = genesis_snapshot(chain, epoch)
    error = case["expected_error"]
    for i, block in enumerate(case["blocks"]):
        vote = NodeVote(address(block["voted"]), block["auth"]) if block["voted"] else None
        signer = key(block["signer"])
        timestamp = start + block["number"]
        if error and i == len(case["blocks"]) - 1:
            with pytest.raises(ValidationError):
                chain.build_block(
                    [],
                    Address(signer.public_key.to_canonical_address()),
                    signer,
                    timestamp=timestamp,
                    vote=vote,
                )
            with pytest.raises(BadHeader, match=ERRORS[error]):
                snapshot.verify(as_json(_forge(chain, signer, timestamp, vote, epoch)))
            return
        chain.build_block(
            [], Address(signer.public_key.to_canonical_address()), signer, timestamp=timestamp, vote=vote
        )
        snapshot, header = snapshot.verify(block_json(chain))
        assert header.hash == chain.head.hash
        assert snapshot.signers == tuple(sorted(chain.signers()))
        # the snapshot survives a restart (stored as JSON beside the journal)
        assert Snapshot.from_json(snapshot.to_json()) == snapshot
    assert error is None
    assert set(snapshot.signers) == {address(s) for s in case["expected_signers"]}


# -- one rule at a time ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def three() -> tuple[Snapshot, list[dict[str, Any]]]:
    """Blocks 1..6 of a 3-signer node chain (epoch 4: block 4 is a checkpoint), all in turn."""
    chain, start = node_chain(["A", "B", "C"], epoch=4)
    by_address = {address(s): key(s) for s in "ABC"}
    order = sorted(by_address)
    blocks = []
    for number in range(1, 7):
        signer = by_address[order[number % 3]]
        chain.build_block(
            [], Address(signer.public_key.to_canonical_address()), signer, timestamp=start + number
        )
        blocks.append(block_json(chain))
    return genesis_snapshot(chain, 4), blocks


def _until(snapshot: Snapshot, blocks: list[dict[str, Any]], number: int) -> Snapshot:
    for block in blocks[: number - 1]:
        snapshot, _ = snapshot.verify(block)
    return snapshot


def _signer_of(block: dict[str, Any]) -> PrivateKey:
    found = seal_signer(block)
    return next(key(s) for s in "ABCD" if address(s) == found)


def test_three_signers__all_blocks__verified_with_checkpoint(
    three: tuple[Snapshot, list[dict[str, Any]]],
) -> None:
    snapshot, blocks = three
    final = _until(snapshot, blocks, 7)
    assert final.number == 6 and len(final.signers) == 3


@pytest.mark.parametrize(
    ("number", "change", "message"),
    [
        (2, {"stateRoot": "0x" + "11" * 32}, "do not hash to the served block hash"),
        (2, {"parentHash": "0x" + "22" * 32}, "does not link"),
        (2, {"number": "0x3"}, "expected block 2"),
        (2, {"extraData": "0x" + "00" * 97}, "not a valid signature"),
        (2, {"extraData": "0x" + "00" * 40}, "is not Clique.s vanity"),
        (2, {"sha3Uncles": "0x" + "33" * 32}, "no uncles"),
    ],
    ids=["altered-field", "broken-link", "wrong-number", "zero-seal", "short-extra", "uncles"],
)
def test_header__tampered__refused(
    three: tuple[Snapshot, list[dict[str, Any]]], number: int, change: dict[str, str], message: str
) -> None:
    snapshot, blocks = three
    parent = _until(snapshot, blocks, number)
    tampered = dict(blocks[number - 1], **change)
    if "hash" in change or change.keys() & {"extraData", "sha3Uncles", "parentHash"}:
        tampered["hash"] = "0x" + header_hash(tampered).hex()
    with pytest.raises(BadHeader, match=message):
        parent.verify(tampered)


def test_header__altered_then_rehashed__seal_no_longer_fits(
    three: tuple[Snapshot, list[dict[str, Any]]],
) -> None:
    snapshot, blocks = three
    forged = dict(blocks[1], receiptsRoot="0x" + "44" * 32)
    forged["hash"] = "0x" + header_hash(forged).hex()
    with pytest.raises(BadHeader, match="unauthorized signer"):
        _until(snapshot, blocks, 2).verify(forged)


@pytest.mark.parametrize(
    ("number", "signer", "fields", "message"),
    [
        (2, "D", {}, "unauthorized signer"),  # a key outside the signer set
        (3, "prev", {}, "recently signed"),  # block 2's signer again at block 3 (limit 2 with 3 signers)
        (2, "same", {"difficulty": "0x1"}, "difficulty does not match"),  # in turn, claims out of turn
        (2, "same", {"nonce": "0x0000000000000001"}, "nonce is not a vote"),
        (2, "same", {"extraData": "0x" + "00" * 32 + "aa" * 20 + "00" * 65}, "signer list outside a checkpoint"),
        (4, "same", {"extraData": "0x" + "00" * 32 + "aa" * 20 + "00" * 65}, "checkpoint signer list differs"),
        (4, "same", {"nonce": "0xffffffffffffffff"}, "checkpoint carries a vote"),
    ],
    ids=["not-a-signer", "recently-signed", "wrong-turn", "bad-nonce", "list-outside-checkpoint",
         "checkpoint-list", "checkpoint-vote"],
)  # fmt: skip
def test_header__resealed_breaking_a_rule__refused(
    three: tuple[Snapshot, list[dict[str, Any]]],
    number: int,
    signer: str,
    fields: dict[str, str],
    message: str,
) -> None:
    snapshot, blocks = three
    parent = _until(snapshot, blocks, number)
    original = blocks[number - 1]
    if signer == "same":
        sealer = _signer_of(original)
    elif signer == "prev":
        sealer = _signer_of(blocks[number - 2])
    else:
        sealer = key(signer)
    difficulty = fields.get("difficulty", original["difficulty"])
    if signer == "prev":  # out of turn now, so an honest difficulty: only recency is broken
        difficulty = "0x1"
    forged = reseal(original, sealer, **{**fields, "difficulty": difficulty})
    with pytest.raises(BadHeader, match=message):
        parent.verify(forged)


def test_the_snapshot_counts_the_finality_votes_the_node_casts_and_counts() -> None:
    """Three signers in turn on the node's chain: the light client's snapshot, fed the served headers, holds the
    same justified and finalized checkpoints as the node after every block, and finality advances."""
    chain, start = node_chain(["A", "B", "C"])
    ordered = sorted("ABC", key=address)
    snapshot = Snapshot.at_checkpoint(block_json(chain, 0), 30_000)
    for n in range(1, 13):
        signer = ordered[n % 3]
        chain.build_block([], address(signer), key(signer), timestamp=start + n)
        snapshot, _ = snapshot.verify(block_json(chain))
        node = chain.checkpoints(chain._evm_header(chain.head_record()))
        assert (snapshot.ffg.justified, snapshot.ffg.finalized) == (node.justified, node.finalized), n
    assert snapshot.ffg.finalized >= 8
    assert Snapshot.from_json(snapshot.to_json()) == snapshot
