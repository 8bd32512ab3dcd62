"""Finality between racing honest validators (node/finality.py), on in-process validators (tests/node/racing.py)
whose blocks travel only in the order a test chooses.

The defect these pinned down, fixed by FFG votes in the blocks: two blocks sealed at the same height (an
out-of-turn signer that did not see the in-turn block in time, or nodes that sealed block 1 before they were
linked) let two nodes finalize different blocks. Each then refused the other's branch for good, and the one
left alone on its branch stopped: it could not seal (recently signed) and refused every block the others sealed.
"""

from __future__ import annotations

import random
from pathlib import Path

from pamchain.node import finality, load_genesis
from pamchain.node.chain import Chain
from pamchain.node.chain.base import _OWN_VOTE_KEY, CHECKPOINTS_KEY
from pamchain.node.storage import open_store

from .racing import Net


def test_race_at_one_height__the_validator_that_built_on_the_losing_block__is_not_stranded() -> None:
    net = Net(3)  # block 1: v1 in turn; block 2: v2 in turn
    net.seal(2)  # v2 out of turn at #1: v1's in-turn block had not reached it
    net.seal(1)  # v1 in turn at #1 (heavier)
    net.deliver(2, 0)
    net.seal(0)  # v0 saw v2's block first and built #2 on it
    net.deliver(1, 2)  # v2 switches to v1's heavier #1 ...
    net.seal(2)  # ... and seals #2 on it, in turn
    net.run(6)  # then everyone is linked: every validator must follow one chain and keep sealing
    assert len({c.head.hash for c in net.chains}) == 1, net.describe()
    assert net.chains[0].head.block_number >= 8
    net.assert_one_final_chain()


def test_everyone_sealed_block_one_alone__the_network_still_converges_and_seals() -> None:
    """Nodes that start before they are linked each seal block 1 alone (then each is barred on its own)."""
    net = Net(3)
    for i in range(3):
        net.seal(i)
    net.run(6)
    assert len({c.head.hash for c in net.chains}) == 1, net.describe()
    net.assert_one_final_chain()


def test_random_races__finalized_blocks_never_conflict__and_linked_validators_keep_sealing() -> None:
    """Random partial deliveries and seals (a validator seals whenever it may, on whatever it has: any latency),
    then a fully linked network: no two validators ever hold conflicting final blocks, nobody is stranded."""
    for size in (3, 4, 5):
        for seed in range(20):
            rng = random.Random(seed)
            net = Net(size)
            for _ in range(8 * size):
                i = rng.randrange(size)
                if rng.random() < 0.5 and net.may_seal(i):
                    net.seal(i)
                else:
                    net.deliver(rng.randrange(size), i)
                net.record_finals()
            net.run(3 * size)
            assert len({c.head.hash for c in net.chains}) == 1, (size, seed, net.describe())
            net.assert_one_final_chain()


def test_finality_survives_a_restart__and_an_older_datadir_without_checkpoints_recomputes_it(
    tmp_path: Path,
) -> None:
    dirs = [tmp_path / f"v{i}" for i in range(3)]
    net = Net(3, dirs)
    net.run(9)
    before = net.chains[0]
    final, head = before.finalized.hash, before.head.hash
    assert before.finalized.block_number >= 4, net.describe()
    keys = [
        CHECKPOINTS_KEY + before._header_by_number(n).hash for n in range(1, before.head.block_number + 1)
    ]
    before.store.close()

    again = Chain(load_genesis(net.genesis), open_store(dirs[0]))
    assert (again.head.hash, again.finalized.hash) == (head, final)
    again.store.commit((), deletes=keys)  # a datadir written before the checkpoints were kept
    again.store.close()
    older = Chain(load_genesis(net.genesis), open_store(dirs[0]))
    assert older.finalized.hash == final


def test_a_validator_that_lost_its_vote_record_reads_its_votes_back_from_the_chain() -> None:
    """A datadir restored from a backup forgets the votes cast since; the blocks it synced back still carry them,
    and it must not vote their targets again (a second vote at one height is what FFG forbids)."""
    net = Net(3)
    net.run(4)  # E = 2: the head's sealer voted for the checkpoint at or below the head
    chain = net.chains[0]
    head = chain.head
    sealer = net.signer_of(chain, head.hash)
    voted = finality.read_vote(head.extra_data, head.block_number)
    assert voted is not None
    own = net.chains[sealer]
    key = _OWN_VOTE_KEY + bytes.fromhex(net.accounts[sealer].address[2:])
    own.store.commit((), deletes=[key])
    own.db.staged._cache.clear()
    again = own._cast_vote(own.head, key[len(_OWN_VOTE_KEY) :])
    own.db.discard()
    assert again is None or again.target > voted.target, (voted, again)
