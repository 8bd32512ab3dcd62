"""Finality for a Clique chain with more than one signer: Casper FFG votes carried in the blocks themselves.

Clique alone has no finality: an honest signer moves to any heavier branch, so "a majority of the signers built
on B" (this module's first rule) did not stop two nodes from finalizing sibling blocks after an honest race:
the out-of-turn sealer of the losing sibling counted on both sides (tests/node/test_finality.py).

The rule now is Casper FFG's (Buterin and Griffith, "Casper the Friendly Finality Gadget", 2017), with a
checkpoint every ``E`` blocks (``E = floor(N0/2) + 1`` for the genesis's ``N0`` signers) and the votes in the
32-byte vanity of ``extraData``, which Clique leaves free:

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
"""

from __future__ import annotations

from dataclasses import dataclass

import rlp

MAGIC = b"ffg2"
_VANITY = 32


def epoch_length(genesis_signers: int) -> int:
    """Blocks between checkpoints: as many as the votes a checkpoint needs, one per signer in turn."""
    return quorum(genesis_signers)


def quorum(signer_count: int) -> int:
    return signer_count // 2 + 1


@dataclass(frozen=True)
class Vote:
    """A link from checkpoint ``source`` to checkpoint ``target`` (``source < target``)."""

    source: int
    target: int

    def vanity(self) -> bytes:
        return (MAGIC + self.source.to_bytes(8, "big") + self.target.to_bytes(8, "big")).ljust(_VANITY, b"\0")


def read_vote(extra_data: bytes, number: int, epoch: int) -> Vote | None:
    """The vote in a header's vanity, or None (no vote, or a malformed one: it counts for nothing)."""
    if len(extra_data) < _VANITY or extra_data[:4] != MAGIC or any(extra_data[20:_VANITY]):
        return None
    vote = Vote(int.from_bytes(extra_data[4:12], "big"), int.from_bytes(extra_data[12:20], "big"))
    if not vote.source < vote.target <= number or vote.source % epoch or vote.target % epoch:
        return None
    return vote


@dataclass(frozen=True)
class Checkpoints:
    """What a branch holds after a block: its latest justified and its finalized checkpoint, and the votes
    cast from ``justified`` so far, as ``(signer, target)``."""

    justified: int = 0
    finalized: int = 0
    votes: tuple[tuple[bytes, int], ...] = ()

    def encode(self) -> bytes:
        return bytes(rlp.encode([self.justified, self.finalized, [list(v) for v in self.votes]]))

    @classmethod
    def decode(cls, data: bytes) -> Checkpoints:
        justified, finalized, votes = rlp.decode(data)
        return cls(
            int.from_bytes(justified, "big"),
            int.from_bytes(finalized, "big"),
            tuple((bytes(s), int.from_bytes(t, "big")) for s, t in votes),
        )


def apply(
    parent: Checkpoints, signer: bytes, vote: Vote | None, signers: frozenset[bytes], epoch: int
) -> Checkpoints:
    """The branch's checkpoints after a block sealed by ``signer`` carrying ``vote``."""
    if vote is None or vote.source != parent.justified or signer not in signers:
        return parent
    if (signer, vote.target) in parent.votes:
        return parent
    votes = (*parent.votes, (signer, vote.target))
    if sum(1 for _, target in votes if target == vote.target) < quorum(len(signers)):
        return Checkpoints(parent.justified, parent.finalized, votes)
    finalized = parent.justified if vote.target == parent.justified + epoch else parent.finalized
    return Checkpoints(vote.target, finalized, ())


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
        return cls(int.from_bytes(source, "big"), int.from_bytes(last, "big"))


def next_vote(branch: Checkpoints, own: LastVote, number: int, epoch: int) -> Vote | None:
    """The vote a signer sealing block ``number`` on a branch may cast, keeping both commandments: only a target
    above the highest it voted before (no double vote), never from a source below its last (no surround)."""
    target = number - number % epoch
    if target <= branch.justified or branch.justified < own.source:
        return None
    if target <= own.last:
        return None
    return Vote(branch.justified, target)
