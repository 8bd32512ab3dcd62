"""node/chain/chaindb.py: a validator holding a side branch longer than its canonical chain still imports and
seals at the heights that branch covers (py-evm's gap record raised HeaderNotFound there, for good)."""

from __future__ import annotations

from .racing import Net


def _shorter_heavier_heads() -> Net:
    """v1 and v2 end on v1's in-turn #1 (difficulty 2), each holding the equally heavy, longer #1-#2 (two
    out-of-turn blocks: v2's #1, v0's #2 on it) as a side branch: EIP-3436 prefers the lower block number."""
    net = Net(3)  # block 1: v1 in turn; block 2: v2 in turn
    net.seal(2)  # v2's out-of-turn #1
    net.seal(1)  # v1's in-turn #1
    net.deliver(2, 0)
    net.seal(0)  # v0's out-of-turn #2 on v2's #1
    for source, target in ((0, 1), (1, 2), (0, 2)):
        net.deliver(source, target)
    for i in (1, 2):
        chain = net.chains[i]
        assert chain.head.block_number == 1 and chain.head.hash == net.chains[1].head.hash
        assert chain.has_block(net.chains[0].head.hash)  # the side #2, one above the head
    return net


def test_side_block_above_the_head__sealing_at_its_height__commits() -> None:
    net = _shorter_heavier_heads()
    net.seal(2)  # v2, in turn at #2, on v1's #1
    assert net.chains[2].head.block_number == 2


def test_side_block_above_the_head__a_block_at_its_height__imports() -> None:
    net = _shorter_heavier_heads()
    net.seal(2)
    net.deliver(2, 1)
    assert net.chains[1].head.hash == net.chains[2].head.hash


def test_switched_to_a_shorter_branch__the_next_block_at_the_old_heads_height__imports() -> None:
    """The same state reached the other way: v3 was on the longer branch and EIP-3436's tie-break moved it to
    the shorter one (five validators: two blocks are not final yet). This one passed on py-evm's ChainDB too:
    the switch (``_canonicalize``) leaves the old number -> hash row behind, which the gap check reads."""
    net = Net(5)  # block 1: v1 in turn; block 2: v2 in turn
    net.seal(2)
    net.deliver(2, 3)
    net.seal(3)  # v2's #1 and v3's #2 on it, both out of turn: as heavy as v1's in-turn #1
    net.seal(1)
    net.deliver(1, 3)
    assert net.chains[3].head.hash == net.chains[1].head.hash
    net.deliver(1, 2)
    net.seal(2)  # v2, in turn at #2, on v1's #1
    net.deliver(2, 3)
    assert net.chains[3].head.hash == net.chains[2].head.hash
