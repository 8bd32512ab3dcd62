"""Finality for a Clique chain with more than one signer: Casper FFG votes carried in the blocks themselves.

The rules shared by the node (node/finality.py, node/chain) and the oracle's light client (sdk/chain/clique.py),
which counts the same votes in the headers whose seals it verified itself.

Clique alone has no finality: an honest signer moves to any heavier branch, so "a majority of the signers built
on B" (the node's first rule) did not stop two nodes from finalizing sibling blocks after an honest race:
the out-of-turn sealer of the losing sibling counted on both sides (tests/node/test_finality.py).

The rule now is Casper FFG's (Buterin and Griffith, "Casper the Friendly Finality Gadget", 2017), with a
checkpoint every ``E`` blocks (``E = floor(N0/2) + 1`` for the genesis's ``N0`` signers) and the votes in the
32-byte vanity of ``extraData``, which Clique leaves free (the vote names ``E`` too, so a light client learns it
from the signers' own votes and never from the node it reads):

* A vote is a *link* from a source checkpoint to a target checkpoint of the branch holding the block that
  carries it (heights name blocks unambiguously there). A signer sealing block ``n`` votes for the last
  checkpoint at or below ``n`` (possibly its own block) from the latest checkpoint its branch holds justified.
* A checkpoint is *justified* when ``floor(N/2) + 1`` distinct signers voted for it from the branch's latest
  justified checkpoint (genesis is justified); that source is *finalized* when the justified target is the
  next checkpoint after it. Only the votes of the branch holding them count, and only those from its latest
  justified checkpoint: counting a subset of the votes cast is always safe.
* An honest signer never votes two different blocks at one height (each vote targets a height above its last)
  and never moves its source back (it abstains on a branch whose justified checkpoint is below its last
  source): FFG's two commandments. It seals all the same, so blocks never wait for votes.
* Fork choice prefers the branch with the highest justified checkpoint, then EIP-3436.

Two quorums of more than half the signers share a signer, so two conflicting finalized blocks would need a
signer to break a commandment (FFG's safety proof). Crash faults and honest races therefore cannot finalize
conflicting blocks, and no node is left alone on a final branch. Limits: a Byzantine signer (one that breaks
a commandment) is not detected; a change of the signer set is counted with the quorum of the parent's set (FFG's
dynasties are not implemented), and a set that grows past ``2E - 1`` signers finalizes nothing until the
chain is restarted from a genesis sized for it; a validator key moved to a fresh datadir forgets the votes it
cast and must not seal until the chain is past them.

With one signer there is no one to race: every sealed block is final at once (as before). With N signers a
checkpoint is final ``2E - 1`` blocks after it is sealed and a block between checkpoints up to ``3E - 2``: 3-4
blocks with three signers.

A light client starts from a trusted anchor, not from genesis: until it has seen a justified checkpoint it
counts links from any source at or below the anchor (the anchor is final by trust, so its ancestors are as
good as justified; no conflicting finalization can follow, by the same surround and double-vote argument).
"""

from __future__ import annotations

from dataclasses import dataclass

import rlp

MAGIC = b"ffg3"
VANITY = 32
UNKNOWN = -1  # a light client's justified checkpoint before it has seen one justified


def epoch_length(genesis_signers: int) -> int:
    """Blocks between checkpoints: as many as the votes a checkpoint needs, one per signer in turn."""
    return quorum(genesis_signers)


def quorum(signer_count: int) -> int:
    return signer_count // 2 + 1


@dataclass(frozen=True)
class Vote:
    """A link from checkpoint ``source`` to checkpoint ``target`` (``source < target``), checkpoints being the
    multiples of ``epoch``."""

    source: int
    target: int
    epoch: int

    def vanity(self) -> bytes:
        fields = (
            self.source.to_bytes(8, "big"),
            self.target.to_bytes(8, "big"),
            self.epoch.to_bytes(4, "big"),
        )
        return (MAGIC + b"".join(fields)).ljust(VANITY, b"\0")


def read_vote(extra_data: bytes, number: int) -> Vote | None:
    """The vote in a header's vanity, or None (no vote, or a malformed one: it counts for nothing)."""
    if len(extra_data) < VANITY or extra_data[:4] != MAGIC or any(extra_data[24:VANITY]):
        return None
    source, target = int.from_bytes(extra_data[4:12], "big"), int.from_bytes(extra_data[12:20], "big")
    epoch = int.from_bytes(extra_data[20:24], "big")
    if epoch < 1 or not source < target <= number or source % epoch or target % epoch:
        return None
    return Vote(source, target, epoch)


@dataclass(frozen=True)
class Checkpoints:
    """What a branch holds after a block: its latest justified and its finalized checkpoint, the votes cast
    from ``justified`` so far as ``(signer, source, target)``, and the checkpoint spacing (0: not known yet)."""

    justified: int = 0
    finalized: int = 0
    votes: tuple[tuple[bytes, int, int], ...] = ()
    epoch: int = 0

    @classmethod
    def from_anchor(cls, number: int) -> Checkpoints:
        """A light client's start: the anchor is final by trust; genesis is justified by definition."""
        return cls(0 if number == 0 else UNKNOWN, number)

    def encode(self) -> bytes:
        votes = [[s, src, t] for s, src, t in self.votes]
        return bytes(rlp.encode([self.justified + 1, self.finalized, votes, self.epoch]))

    @classmethod
    def decode(cls, data: bytes) -> Checkpoints:
        justified, finalized, votes, epoch = rlp.decode(data)
        return cls(
            _int(justified) - 1,
            _int(finalized),
            tuple((bytes(s), _int(src), _int(t)) for s, src, t in votes),
            _int(epoch),
        )

    def to_json(self) -> list[object]:
        return [self.justified, self.finalized, [[s.hex(), src, t] for s, src, t in self.votes], self.epoch]

    @classmethod
    def from_json(cls, data: list[object]) -> Checkpoints:
        justified, finalized, votes, epoch = data
        assert isinstance(votes, list)
        return cls(
            int(str(justified)),
            int(str(finalized)),
            tuple((bytes.fromhex(s), int(src), int(t)) for s, src, t in votes),
            int(str(epoch)),
        )


def _int(item: bytes) -> int:
    return int.from_bytes(item, "big")


def apply(parent: Checkpoints, signer: bytes, vote: Vote | None, signers: frozenset[bytes]) -> Checkpoints:
    """The branch's checkpoints after a block sealed by ``signer`` carrying ``vote``."""
    if vote is None or signer not in signers or (parent.epoch and vote.epoch != parent.epoch):
        return parent
    if parent.justified == UNKNOWN:
        if vote.source > parent.finalized:
            return parent
    elif vote.source != parent.justified:
        return parent
    if any(s == signer and t == vote.target for s, _, t in parent.votes):
        return parent
    votes = (*parent.votes, (signer, vote.source, vote.target))
    link = sum(1 for _, source, target in votes if (source, target) == (vote.source, vote.target))
    if link < quorum(len(signers)):
        return Checkpoints(parent.justified, parent.finalized, votes, vote.epoch)
    adjacent = vote.target == vote.source + vote.epoch
    finalized = max(parent.finalized, vote.source) if adjacent else parent.finalized
    return Checkpoints(vote.target, finalized, (), vote.epoch)


def final_height(branch: Checkpoints, signer_count: int, head: int) -> int:
    """The highest final block of a branch whose head is block ``head``: with one signer every sealed block (no
    one races it), else the checkpoint its votes finalized."""
    return head if signer_count <= 1 else branch.finalized


@dataclass(frozen=True)
class LastVote:
    """The highest target a signer voted and the source it voted from (kept with the blocks it sealed)."""

    source: int = 0
    last: int = 0

    def encode(self) -> bytes:
        return bytes(rlp.encode([self.source, self.last]))

    @classmethod
    def decode(cls, data: bytes) -> LastVote:
        source, last = rlp.decode(data)
        return cls(_int(source), _int(last))


def next_vote(branch: Checkpoints, own: LastVote, number: int, epoch: int) -> Vote | None:
    """The vote a signer sealing block ``number`` on a branch may cast, keeping both commandments: only a target
    above the highest it voted before (no double vote), never from a source below its last (no surround)."""
    target = number - number % epoch
    if target <= branch.justified or branch.justified < own.source or target <= own.last:
        return None
    return Vote(branch.justified, target, epoch)
