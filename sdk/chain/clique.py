"""EIP-225 (Clique) rules over headers as JSON-RPC serves them: seal, signer-set snapshot with votes, finality.

Pure functions over plain data, no I/O and no py-evm objects (the SDK runs on a domain controller that does
not import the node); the oracle's light client and the auditor's ``verify_chain`` both use them. The header
hash is keccak of the RLP header; the seal hash cuts the 65-byte seal from ``extraData`` (py-evm's
definition, checked against real Goerli/Rinkeby headers); the vote tally is a port of geth's
``Snapshot.apply``, checked against the 24 EIP-225 scenarios sealed by pamchain's node
(tests/sdk/test_clique.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import rlp
from eth_bloom import BloomFilter
from eth_keys import keys
from eth_utils import keccak
from pamchain.sdk.chain import ffg as casper
from pamchain.sdk.errors import SdkError

VANITY, SEAL, ADDRESS = 32, 65, 20
NONCE_AUTH = b"\xff" * 8
NONCE_DROP = b"\x00" * 8
ZERO_ADDRESS = b"\x00" * 20
EMPTY_UNCLES = bytes.fromhex("1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347")
DIFF_IN_TURN, DIFF_NO_TURN = 2, 1
DEFAULT_EPOCH = 30_000
# geth's error texts, so operators can search for them
ERR_UNAUTHORIZED = "unauthorized signer"
ERR_RECENTLY_SIGNED = "recently signed"

# Header fields in RLP order; fields a block's fork does not have are absent from its JSON and skipped.
HEADER_FIELDS: tuple[tuple[str, str], ...] = (
    ("parentHash", "bytes"),
    ("sha3Uncles", "bytes"),
    ("miner", "bytes"),
    ("stateRoot", "bytes"),
    ("transactionsRoot", "bytes"),
    ("receiptsRoot", "bytes"),
    ("logsBloom", "bytes"),
    ("difficulty", "int"),
    ("number", "int"),
    ("gasLimit", "int"),
    ("gasUsed", "int"),
    ("timestamp", "int"),
    ("extraData", "bytes"),
    ("mixHash", "bytes"),
    ("nonce", "bytes"),
    ("baseFeePerGas", "int"),
    ("withdrawalsRoot", "bytes"),
    ("blobGasUsed", "int"),
    ("excessBlobGas", "int"),
    ("parentBeaconBlockRoot", "bytes"),
    ("requestsHash", "bytes"),
)


class BadHeader(SdkError, ValueError):
    """A header breaks a Clique rule: it was not sealed by the chain's signers or does not link."""

    def __init__(self, number: int, block_hash: str, reason: str) -> None:
        super().__init__(f"block {number} ({block_hash}): {reason}")
        self.number = number
        self.block_hash = block_hash
        self.reason = reason


class UnlinkedHeader(BadHeader):
    """A header whose parent is not the block verified before it (a lie, or the head moved meanwhile)."""


@dataclass(frozen=True, slots=True)
class Header:
    """The fields of a verified header that the light client uses afterwards."""

    number: int
    hash: bytes
    parent_hash: bytes
    signer: bytes  # empty for the genesis and for an anchor taken on trust
    logs_bloom: bytes
    receipts_root: bytes
    transactions_root: bytes

    @property
    def hex_hash(self) -> str:
        return "0x" + self.hash.hex()

    def may_contain(self, address: bytes, topics: Iterable[bytes] = ()) -> bool:
        """Whether this block's logs bloom admits a log of ``address`` (and every topic given)."""
        bloom = BloomFilter(int.from_bytes(self.logs_bloom, "big"))
        return address in bloom and all(topic in bloom for topic in topics)


@dataclass(frozen=True, slots=True)
class Vote:
    """A signer's standing vote to add (``authorize``) or drop ``subject``."""

    signer: bytes
    number: int
    subject: bytes
    authorize: bool


@dataclass(frozen=True, slots=True)
class Tally:
    authorize: bool
    votes: int


def hex_bytes(value: str | None) -> bytes:
    """A JSON-RPC data field (``0x...``) as bytes; empty when absent."""
    return bytes.fromhex(value[2:]) if value else b""


def hex_int(value: str | int | None) -> int:
    """A JSON-RPC quantity (``0x...`` or already an int) as an int; 0 when absent."""
    if value is None:
        return 0
    return value if isinstance(value, int) else int(value, 16)


def header_fields(block: dict[str, Any]) -> list[Any]:
    """The header as RLP items, from a JSON-RPC block."""
    items: list[Any] = []
    for name, kind in HEADER_FIELDS:
        if name not in block or block[name] is None:
            continue
        items.append(hex_bytes(block[name]) if kind == "bytes" else hex_int(block[name]))
    return items


def header_hash(block: dict[str, Any]) -> bytes:

    return keccak(rlp.encode(header_fields(block)))


def seal_hash(block: dict[str, Any]) -> bytes:
    """Clique's signing hash: the header with the 65-byte seal cut from ``extraData`` (py-evm's definition)."""

    return keccak(
        rlp.encode(header_fields(dict(block, extraData="0x" + hex_bytes(block["extraData"])[:-SEAL].hex())))
    )


def seal_signer(block: dict[str, Any]) -> bytes:
    """The address that sealed ``block``, recovered from the last 65 bytes of ``extraData``."""

    signature = hex_bytes(block["extraData"])[-SEAL:]
    v = signature[64]
    sig = keys.Signature(
        vrs=(v, int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:64], "big"))
    )
    return bytes(sig.recover_public_key_from_msg_hash(seal_hash(block)).to_canonical_address())


def checkpoint_signers(extra: bytes) -> tuple[bytes, ...]:
    body = extra[VANITY : len(extra) - SEAL]
    return tuple(body[i : i + ADDRESS] for i in range(0, len(body), ADDRESS))


def parse_header(block: Mapping[str, Any], signer: bytes = b"") -> Header:
    """The header's own hash (recomputed, never the served ``hash``) and the fields kept after checks."""
    return Header(
        number=hex_int(block["number"]),
        hash=header_hash(dict(block)),
        parent_hash=hex_bytes(block["parentHash"]),
        signer=signer,
        logs_bloom=hex_bytes(block["logsBloom"]),
        receipts_root=hex_bytes(block["receiptsRoot"]),
        transactions_root=hex_bytes(block["transactionsRoot"]),
    )


def signer_limit(signer_count: int) -> int:
    """EIP-225: a signer seals at most one block in any ``floor(N/2) + 1`` consecutive blocks."""
    return signer_count // 2 + 1


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The signer set, recent signers and open votes after block ``number`` (geth's ``Snapshot``)."""

    epoch: int
    number: int
    hash: bytes
    signers: tuple[bytes, ...]  # sorted, as the in-turn rule and checkpoints list them
    recents: tuple[tuple[int, bytes], ...]  # (block, signer) of the blocks a signer may not follow yet
    votes: tuple[Vote, ...] = ()
    tallies: tuple[tuple[bytes, Tally], ...] = ()
    # the FFG checkpoints of the chain after ``number`` (sdk/chain/ffg.py)
    ffg: casper.Checkpoints = field(default_factory=casper.Checkpoints)

    @classmethod
    def at_checkpoint(
        cls, block: Mapping[str, Any], epoch: int, recents: Sequence[tuple[int, bytes]] = ()
    ) -> Snapshot:
        """The snapshot a checkpoint (or genesis) header establishes: the signers its ``extraData`` lists.

        The caller must already trust the header (its hash is the anchor, or it links to the anchor).
        """
        header = parse_header(block)
        signers = checkpoint_signers(hex_bytes(block["extraData"]))
        if not signers:
            raise BadHeader(header.number, header.hex_hash, "a checkpoint lists no signers")
        return cls(epoch, header.number, header.hash, tuple(sorted(signers)), tuple(recents))

    def verify(self, block: Mapping[str, Any]) -> tuple[Snapshot, Header]:
        """Check that ``block`` is the next block, sealed by a signer in turn rules; return the new snapshot.

        Raises :class:`BadHeader` for any rule it breaks: link, hash, Clique fields, seal, signer, recency,
        difficulty, checkpoint list.
        """
        number = hex_int(block.get("number"))
        served = str(block.get("hash"))
        if number != self.number + 1:
            raise BadHeader(number, served, f"expected block {self.number + 1}")
        header = parse_header(block)
        where = header.hex_hash
        if header.parent_hash != self.hash:
            raise UnlinkedHeader(number, where, f"does not link to the verified block 0x{self.hash.hex()}")
        if "hash" in block and hex_bytes(block["hash"]) != header.hash:
            raise BadHeader(number, served, "header fields do not hash to the served block hash")
        extra = hex_bytes(block["extraData"])
        if len(extra) < VANITY + SEAL or (len(extra) - VANITY - SEAL) % ADDRESS:
            raise BadHeader(number, where, "extraData is not Clique's vanity + signers + seal")
        if hex_bytes(block["sha3Uncles"]) != EMPTY_UNCLES:
            raise BadHeader(number, where, "a Clique block has no uncles")
        coinbase, nonce = hex_bytes(block["miner"]), hex_bytes(block["nonce"])
        checkpoint = number % self.epoch == 0
        listed = checkpoint_signers(extra)
        if checkpoint:
            if coinbase != ZERO_ADDRESS or nonce != NONCE_DROP:
                raise BadHeader(number, where, "a checkpoint carries a vote")
            if tuple(listed) != self.signers:
                raise BadHeader(number, where, "checkpoint signer list differs from the signer set")
        elif listed:
            raise BadHeader(number, where, "signer list outside a checkpoint")
        elif nonce not in (NONCE_AUTH, NONCE_DROP):
            raise BadHeader(number, where, "nonce is not a vote")
        try:
            signer = seal_signer(dict(block))
        except Exception as exc:  # eth_keys raises several types for a malformed signature
            raise BadHeader(number, where, "the seal is not a valid signature") from exc
        snapshot = self._apply(number, header.hash, signer, coinbase, nonce, where)
        vote = casper.read_vote(extra, number)
        snapshot = replace(snapshot, ffg=casper.apply(self.ffg, signer, vote, frozenset(self.signers)))
        in_turn = self.signers[number % len(self.signers)] == signer
        if hex_int(block["difficulty"]) != (DIFF_IN_TURN if in_turn else DIFF_NO_TURN):
            raise BadHeader(number, where, "difficulty does not match the signer's turn")
        return snapshot, replace(header, signer=signer)

    def _apply(
        self, number: int, block_hash: bytes, signer: bytes, subject: bytes, nonce: bytes, where: str
    ) -> Snapshot:
        # A straight port of geth's Snapshot.apply (consensus/clique/snapshot.go) for one header.
        signers = list(self.signers)
        votes = list(self.votes) if number % self.epoch else []
        tallies = dict(self.tallies) if number % self.epoch else {}
        recents = dict(self.recents)
        limit = signer_limit(len(signers))
        if number >= limit:
            recents.pop(number - limit, None)
        if signer not in signers:
            raise BadHeader(number, where, f"{ERR_UNAUTHORIZED}: 0x{signer.hex()}")
        if signer in recents.values():
            raise BadHeader(number, where, f"{ERR_RECENTLY_SIGNED}: 0x{signer.hex()}")
        recents[number] = signer
        for vote in votes:  # a signer's new vote on a subject replaces its previous one
            if vote.signer == signer and vote.subject == subject:
                _uncast(tallies, vote.subject, vote.authorize)
                votes.remove(vote)
                break
        authorize = nonce == NONCE_AUTH
        if _cast(signers, tallies, subject, authorize):
            votes.append(Vote(signer, number, subject, authorize))
        tally = tallies.get(subject)
        if tally is not None and tally.votes > len(signers) // 2:
            if tally.authorize:
                signers.append(subject)
            else:
                signers.remove(subject)
                limit = signer_limit(len(signers))
                if number >= limit:
                    recents.pop(number - limit, None)
                for vote in list(votes):  # votes the removed signer cast no longer count
                    if vote.signer == subject:
                        _uncast(tallies, vote.subject, vote.authorize)
                        votes.remove(vote)
            votes = [vote for vote in votes if vote.subject != subject]
            tallies.pop(subject, None)
        return Snapshot(
            self.epoch,
            number,
            block_hash,
            tuple(sorted(signers)),
            tuple(sorted(recents.items())),
            tuple(votes),
            tuple(tallies.items()),
            self.ffg,
        )

    # -- persistence -------------------------------------------------------------------------------------

    def to_json(self) -> str:
        return json.dumps(
            {
                "epoch": self.epoch,
                "number": self.number,
                "hash": self.hash.hex(),
                "signers": [s.hex() for s in self.signers],
                "recents": [[n, s.hex()] for n, s in self.recents],
                "votes": [[v.signer.hex(), v.number, v.subject.hex(), v.authorize] for v in self.votes],
                "tallies": [[a.hex(), t.authorize, t.votes] for a, t in self.tallies],
                "ffg": self.ffg.to_json(),
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Snapshot:
        data = json.loads(text)
        return cls(
            int(data["epoch"]),
            int(data["number"]),
            bytes.fromhex(data["hash"]),
            tuple(bytes.fromhex(s) for s in data["signers"]),
            tuple((int(n), bytes.fromhex(s)) for n, s in data["recents"]),
            tuple(Vote(bytes.fromhex(s), int(n), bytes.fromhex(a), bool(z)) for s, n, a, z in data["votes"]),
            tuple((bytes.fromhex(a), Tally(bool(z), int(c))) for a, z, c in data["tallies"]),
            # a snapshot stored before the checkpoints were counted was final by the earlier rule: trusted
            casper.Checkpoints.from_json(data["ffg"])
            if "ffg" in data
            else casper.Checkpoints.from_anchor(int(data["number"])),
        )


def _cast(signers: list[bytes], tallies: dict[bytes, Tally], subject: bytes, authorize: bool) -> bool:
    if (subject in signers) == authorize:
        return False  # adding a signer or dropping a non-signer is not a valid vote
    old = tallies.get(subject)
    tallies[subject] = Tally(authorize, 1) if old is None else Tally(old.authorize, old.votes + 1)
    return True


def _uncast(tallies: dict[bytes, Tally], subject: bytes, authorize: bool) -> None:
    tally = tallies.get(subject)
    if tally is None or tally.authorize != authorize:
        return
    if tally.votes > 1:
        tallies[subject] = Tally(tally.authorize, tally.votes - 1)
    else:
        del tallies[subject]


__all__ = [
    "DEFAULT_EPOCH",
    "BadHeader",
    "Header",
    "Snapshot",
    "UnlinkedHeader",
    "parse_header",
    "signer_limit",
]
