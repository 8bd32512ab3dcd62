"""The node's finality: Casper FFG votes in the Clique vanity, the rules in ``pamchain.sdk.chain.ffg`` (shared
with the oracle's light client, which counts the same votes in headers it verified itself). The chain applies
them in ``ChainBase.checkpoints`` / ``_cast_vote`` / ``_advance_finality`` and its fork choice."""

from __future__ import annotations

from pamchain.sdk.chain.ffg import (
    Checkpoints,
    LastVote,
    Vote,
    apply,
    epoch_length,
    final_height,
    next_vote,
    quorum,
    read_vote,
)

__all__ = [
    "Checkpoints",
    "LastVote",
    "Vote",
    "apply",
    "epoch_length",
    "final_height",
    "next_vote",
    "quorum",
    "read_vote",
]
