"""The FFG rules (sdk/chain/ffg.py, applied by the node and by the light client) on their own: the votes a signer casts keep both commandments whatever
branches it is shown, the count justifies and finalizes only on a quorum of distinct signers, and a malformed
or misplaced vote counts for nothing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pamchain.sdk.chain import ffg as finality
from pamchain.sdk.chain.ffg import UNKNOWN, Checkpoints, LastVote, Vote

A, B, C, D = (bytes([i]) * 20 for i in range(1, 5))
THREE = frozenset({A, B, C})


@given(
    epoch=st.integers(1, 4),
    shown=st.lists(st.tuples(st.integers(0, 12), st.integers(1, 60)), min_size=1, max_size=40),
)
def test_a_signer_shown_any_branches_never_double_votes_nor_surrounds(
    epoch: int, shown: list[tuple[int, int]]
) -> None:
    """Each step shows the signer a branch (its justified checkpoint, the number of the block to seal) in any
    order, as races and reorgs would; the votes it casts never share a target height (one block per height is
    all FFG allows), and none surrounds another."""
    own = LastVote()
    cast: list[Vote] = []
    for justified_epochs, number in shown:
        branch = Checkpoints(justified=min(justified_epochs * epoch, number - 1))
        branch = Checkpoints(justified=branch.justified - branch.justified % epoch)
        vote = finality.next_vote(branch, own, number, epoch)
        if vote is None:
            continue
        assert vote.source == branch.justified < vote.target <= number
        assert vote.target % epoch == 0
        cast.append(vote)
        own = LastVote(vote.source, vote.target)
    targets = [v.target for v in cast]
    assert len(targets) == len(set(targets))
    for one in cast:
        for other in cast:
            assert not (one.source < other.source and other.target < one.target), (one, other)


def test_a_quorum_of_distinct_signers_justifies__the_next_checkpoint_finalizes_its_source() -> None:
    state = Checkpoints(epoch=2)
    state = finality.apply(state, A, Vote(0, 2, 2), THREE)
    assert (state.justified, state.finalized) == (0, 0)
    assert finality.apply(state, A, Vote(0, 2, 2), THREE) == state  # the same signer twice is one vote
    state = finality.apply(state, B, Vote(0, 2, 2), THREE)
    assert (state.justified, state.finalized, state.votes) == (2, 0, ())  # 0 was final already: genesis
    state = finality.apply(state, C, Vote(2, 4, 2), THREE)
    state = finality.apply(state, A, Vote(2, 4, 2), THREE)
    assert (state.justified, state.finalized) == (4, 2)


def test_a_link_that_skips_a_checkpoint_justifies_without_finalizing() -> None:
    state = Checkpoints(justified=2, finalized=0, epoch=2)
    for signer in (A, B):
        state = finality.apply(state, signer, Vote(2, 6, 2), THREE)
    assert (state.justified, state.finalized) == (6, 0)


@pytest.mark.parametrize(
    ("signer", "vote"),
    [
        (D, Vote(0, 2, 2)),  # not a signer
        (B, Vote(2, 4, 2)),  # from a source this branch does not hold as its latest justified
        (B, Vote(0, 3, 3)),  # another checkpoint spacing than the branch's
        (B, None),  # no vote
    ],
)
def test_votes_that_do_not_count(signer: bytes, vote: Vote | None) -> None:
    state = finality.apply(Checkpoints(epoch=2), A, Vote(0, 2, 2), THREE)
    assert finality.apply(state, signer, vote, THREE) == state


def test_votes_read_from_the_vanity__malformed_ones_are_none() -> None:
    extra = Vote(2, 4, 2).vanity() + b"\0" * 65
    assert finality.read_vote(extra, 4) == Vote(2, 4, 2)
    assert finality.read_vote(extra, 3) is None  # a target above the block carrying it
    assert finality.read_vote(Vote(2, 4, 3).vanity(), 4) is None  # heights that are not checkpoints
    assert finality.read_vote(Vote(0, 4, 0).vanity(), 4) is None  # no spacing
    assert finality.read_vote(b"\0" * 97, 4) is None
    assert finality.read_vote(extra[:31] + b"\1" + extra[32:], 4) is None  # trailing bytes set
    assert finality.read_vote(Vote(4, 4, 2).vanity() + b"\0" * 65, 4) is None  # source not below target
    assert finality.read_vote(b"xyz", 4) is None


def test_checkpoints_and_last_votes_survive_encoding() -> None:
    for state in (Checkpoints(4, 2, ((A, 2, 6), (B, 2, 6)), 2), Checkpoints.from_anchor(40)):
        assert Checkpoints.decode(state.encode()) == state
        assert Checkpoints.from_json(state.to_json()) == state
    assert LastVote.decode(LastVote(2, 4).encode()) == LastVote(2, 4)


def test_a_light_client_from_an_anchor_counts_links_from_at_or_below_it__and_learns_the_spacing() -> None:
    """Before it has seen a justification it does not know the branch's justified checkpoint: any source at or
    below the trusted anchor will do, links counted apart; the spacing comes from the votes, one for all."""
    state = Checkpoints.from_anchor(10)
    assert (state.justified, state.finalized, state.epoch) == (UNKNOWN, 10, 0)
    assert finality.apply(state, A, Vote(12, 14, 2), THREE) == state  # a source above the anchor
    state = finality.apply(state, A, Vote(8, 12, 2), THREE)
    assert state.epoch == 2
    assert finality.apply(state, B, Vote(8, 12, 4), THREE) == state  # another spacing
    state = finality.apply(state, B, Vote(10, 12, 2), THREE)  # another link: no quorum yet
    assert state.justified == UNKNOWN
    state = finality.apply(state, C, Vote(10, 12, 2), THREE)
    assert (state.justified, state.finalized) == (12, 10)
    for signer in (A, B):
        state = finality.apply(state, signer, Vote(12, 14, 2), THREE)
    assert (state.justified, state.finalized) == (14, 12)
