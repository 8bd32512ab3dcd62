"""A validator network on loopback, one process per node: liveness with a minority down, resync after a
restart, split and heal without reverting a final block, signers voted out and in, node permissioning."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pamchain.node.consensus import in_turn_signer
from pamchain.node.finality import epoch_length
from pamchain.node.sealing import FAST_FINALITY_EPOCHS

from support.cluster import Cluster, Member, same_head, wait_blocks, wait_for


def _peers(m: Member) -> int:
    return int(m.rpc.call("net_peerCount"), 16)


def _mesh(cluster: Cluster, members: list[Member], timeout: float = 60) -> None:
    want = len(members) - 1
    wait_for(lambda: all(_peers(m) == want for m in members), timeout, f"{want} peers on every node")


def _final_block_of(m: Member, tx_hash: str) -> dict[str, Any] | None:
    receipt = m.rpc.call("eth_getTransactionReceipt", tx_hash)
    if receipt is None:
        return None
    if m.rpc.number("finalized") < int(receipt["blockNumber"], 16):
        return None
    return receipt


def _record_finalized(cluster: Cluster, seen: set[tuple[int, str]]) -> None:
    for m in cluster.running():
        block = m.rpc.block("finalized")
        seen.add((int(block["number"], 16), block["hash"]))


def test_minority_down_resync_and_node_permissioning(cluster_factory: Callable[..., Cluster]) -> None:
    cluster = cluster_factory(4, start=False, signers=3, allowed=3)
    a, b, c, outsider = cluster.members
    for m in (a, b, c):
        cluster.start(m, wait=False)
    for m in (a, b, c):
        cluster.wait_up(m)
    _mesh(cluster, [a, b, c])

    # A transaction sent to one validator is gossiped, sealed, propagated and final on all three.
    tx0 = cluster.send_transfer(b, 0)
    receipts = [wait_blocks(m, lambda m=m: _final_block_of(m, tx0), 12, "tx0 final") for m in (a, b, c)]
    assert len({r["blockHash"] for r in receipts}) == 1
    assert a.rpc.number("finalized") < a.rpc.number("latest")  # 3 signers: final lags the head

    # A node whose key is not in the genesis node allowlist is refused by everyone (and learns nothing).
    cluster.start(outsider)
    seen = a.rpc.number()
    wait_blocks(a, lambda: a.rpc.number() >= seen + 3, 6, "three blocks with the outsider running")
    assert _peers(outsider) == 0
    assert outsider.rpc.number() == 0
    assert all(_peers(m) == 2 for m in (a, b, c))
    cluster.kill(outsider)

    # One of three down: the other two keep sealing (each may sign every other block) and finalizing.
    cluster.kill(c)
    wait_for(lambda: _peers(a) == 1 and _peers(b) == 1, 30, "the dead peer dropped")
    tx1 = cluster.send_transfer(a, 1)
    final = wait_blocks(b, lambda: _final_block_of(b, tx1), 12, "tx1 final with one validator down")
    head_while_down = a.rpc.number()

    # The node restarts, catches up from its peers (validating every block) and rejoins sealing.
    cluster.start(c)
    wait_blocks(
        a, lambda: c.rpc.call("eth_getTransactionReceipt", tx1) is not None, 30, "restarted node resynced"
    )
    assert c.rpc.call("eth_getTransactionReceipt", tx1)["blockHash"] == final["blockHash"]
    wait_blocks(a, lambda: c.rpc.number() >= head_while_down, 20, "restarted node at the head")
    signer_c = c.signer.address.lower()

    def sealed_by_c() -> bool:
        head = a.rpc.number()
        return any(
            a.rpc.call("clique_getSigner", hex(n)) == signer_c for n in range(max(1, head - 4), head + 1)
        )

    wait_blocks(a, sealed_by_c, 20, "the restarted validator sealing again")


def test_split_and_heal_never_reverts_a_final_block(cluster_factory: Callable[..., Cluster]) -> None:
    cluster = cluster_factory(5)
    nodes = cluster.members
    _mesh(cluster, nodes)
    wait_blocks(
        nodes[0], lambda: all(m.rpc.number("finalized") >= 2 for m in nodes), 15, "a final block everywhere"
    )
    finalized: set[tuple[int, str]] = set()
    _record_finalized(cluster, finalized)

    majority, minority = nodes[:3], nodes[3:]
    cluster.partition(majority, minority)
    split_head = max(m.rpc.number() for m in minority)
    tx_major = cluster.send_transfer(majority[0], 0)
    split_major = majority[0].rpc.number()

    def majority_sealed_eight() -> bool:
        _record_finalized(cluster, finalized)
        return majority[0].rpc.number() >= split_major + 8

    wait_blocks(majority[0], majority_sealed_eight, 12, "eight blocks on the majority side", interval=0.3)
    # The majority side keeps sealing and finalizing; the minority (2 of 5) can add at most 2 blocks.
    assert wait_blocks(
        majority[1], lambda: _final_block_of(majority[1], tx_major), 12, "tx final on the majority"
    )
    assert max(m.rpc.number() for m in minority) <= split_head + 2
    minority_final = max(m.rpc.number("finalized") for m in minority)
    assert minority_final <= split_head

    cluster.heal()
    _mesh(cluster, nodes)

    def converged() -> bool:
        _record_finalized(cluster, finalized)
        heads = {m.rpc.block("latest")["hash"] for m in nodes}
        return len(heads) == 1

    wait_blocks(nodes[0], converged, 30, "one head on every node after healing", interval=0.1)
    for m in nodes:
        assert _final_block_of(m, tx_major) is not None or wait_for(
            lambda m=m: _final_block_of(m, tx_major), 30, "tx final everywhere"
        )
    # No block any node ever reported as finalized was reverted on any node.
    for number, block_hash in sorted(finalized):
        for m in nodes:
            assert m.rpc.block(number)["hash"] == block_hash, (number, m.index)


def _signers_at(m: Member, number: int) -> set[str]:
    return {x.lower() for x in m.rpc.call("clique_getSigners", hex(number))}


def _voters(m: Member, first: int, last: int, subject: str, authorize: bool) -> set[str]:
    """Signers of the blocks in ``[first, last]`` carrying a vote to add (drop) ``subject``."""
    nonce = "0xffffffffffffffff" if authorize else "0x0000000000000000"
    found = set()
    for n in range(first, last + 1):
        block = m.rpc.block(n)
        if block["miner"].lower() == subject and block["nonce"] == nonce:
            found.add(m.rpc.call("clique_getSigner", hex(n)).lower())
    return found


def _vote(cluster: Cluster, voters: list[Member], subject: str, authorize: bool, epoch: int) -> int:
    """Have ``voters`` propose, wait until every node applied the vote; return the block that applied it.

    The budget is in blocks, not seconds: each voter seals at least once an epoch, and a vote that straddles a
    checkpoint is reset and cast again in the next epoch, so three epochs are plenty however slowly a loaded
    machine seals them. Then the chain itself must show the votes came from exactly these signers.
    """
    a = voters[0]
    start = a.rpc.number()
    for voter in voters:
        voter.rpc.call("clique_propose", subject, authorize)
        assert voter.rpc.call("clique_proposals") == {subject: authorize}

    def applied() -> bool:
        return all(
            (subject in {x.lower() for x in m.rpc.call("clique_getSigners")}) == authorize
            for m in cluster.members
        )

    wait_blocks(a, applied, 3 * epoch, f"{subject} voted {'in' if authorize else 'out'} everywhere")
    for voter in voters:
        voter.rpc.call("clique_discard", subject)
    head = a.rpc.number()
    applied_at = next(n for n in range(start, head + 1) if (subject in _signers_at(a, n)) == authorize)
    last_checkpoint = applied_at // epoch * epoch  # votes count from the last checkpoint on
    assert _voters(a, last_checkpoint + 1, applied_at, subject, authorize) == {
        v.signer.address.lower() for v in voters
    }
    return applied_at


def test_signer_voted_out_then_in(cluster_factory: Callable[..., Cluster]) -> None:
    epoch = 8  # short epochs: votes reset and checkpoints list the signers every 8 blocks
    cluster = cluster_factory(3, epoch=epoch)
    a, b, c = cluster.members
    _mesh(cluster, [a, b, c])
    same_head([a, b, c])  # votes go on the branch every node follows
    subject = c.signer.address.lower()

    removed_at = _vote(cluster, [a, b], subject, False, epoch)

    # While out, C follows the chain but seals nothing; the next checkpoint lists two signers. Compared once
    # final on both nodes (a checkpoint at the tip could still lose a fork).
    checkpoint = (removed_at // epoch + 1) * epoch
    wait_blocks(
        a,
        lambda: min(m.rpc.number("finalized") for m in (a, c)) >= checkpoint,
        2 * epoch,
        "next checkpoint final",
    )
    extra = bytes.fromhex(a.rpc.block(checkpoint)["extraData"][2:])
    assert len(extra) == 32 + 2 * 20 + 65
    assert c.rpc.block(checkpoint)["hash"] == a.rpc.block(checkpoint)["hash"]
    snapshot = a.rpc.call("clique_getSnapshot", "latest")
    assert subject not in {s.lower() for s in snapshot["signers"]}
    assert subject not in {
        a.rpc.call("clique_getSigner", hex(n)).lower() for n in range(removed_at + 1, checkpoint + 1)
    }

    _vote(cluster, [a, b], subject, True, epoch)
    status = a.rpc.call("clique_status")
    assert status["finalized"] < status["head"]


def test_two_out_of_turn_blocks_at_one_height__the_signers_agree_and_seal_on(
    cluster_factory: Callable[..., Cluster],
) -> None:
    """Three signers, the one in turn for block 1 down; the other two each seal their own block 1 before they
    meet. Neither chain is heavier and the recently-signed rule forbids each to seal on its own block, so
    unless one adopts the other's block (EIP-3436 tie-break) nobody ever seals again - the stalemate CI hit.
    A signer with no peer does not seal, so each has a non-signer peer of its own until they meet."""
    cluster = cluster_factory(5, start=False, signers=3)
    signers, (a_peer, b_peer) = cluster.members[:3], cluster.members[3:]
    first_in_turn = in_turn_signer([bytes.fromhex(m.signer.address[2:]) for m in signers], 1)
    down = next(m for m in signers if bytes.fromhex(m.signer.address[2:]) == first_in_turn)
    a, b = (m for m in signers if m is not down)
    cluster.bootnodes = []  # a and b do not know each other yet
    for m in (a, b, a_peer, b_peer):
        cluster.start(m, wait=False)
    for m in (a, b, a_peer, b_peer):
        cluster.wait_up(m)
    a.rpc.call("admin_addPeer", a_peer.enode)
    b.rpc.call("admin_addPeer", b_peer.enode)
    wait_for(lambda: a.rpc.number() == 1 and b.rpc.number() == 1, 60, "a and b each seal a block 1")
    assert a.rpc.block(1)["hash"] != b.rpc.block(1)["hash"]  # two blocks at one height, equal difficulty
    a.rpc.call("admin_addPeer", b.enode)
    wait_for(
        lambda: a.rpc.number() >= 3 and b.rpc.number() >= 3, 60, "a and b agree on one block 1 and seal on"
    )
    same_head([a, b])


def test_a_signer_alone_does_not_seal__it_seals_once_a_peer_is_up(
    cluster_factory: Callable[..., Cluster],
) -> None:
    """With three signers, a validator with no peer seals nothing (its blocks could never be final, and at
    start they raced the others' into conflicting finality); a peer coming up starts it, and the transaction
    it held becomes final."""
    cluster = cluster_factory(3, start=False)
    a, b, _c = cluster.members
    cluster.start(a)
    tx_hash = cluster.send_transfer(a, 0)
    # Several periods in which it could have sealed: nothing (a loaded machine only makes this pass sooner).
    watch_until = time.monotonic() + 4 * cluster.period
    while time.monotonic() < watch_until:
        assert a.rpc.number() == 0, "a signer with no peer sealed a block"
        time.sleep(0.2)
    assert _peers(a) == 0
    cluster.start(b)
    assert wait_for(lambda: _final_block_of(a, tx_hash), 60, "the transfer final once a peer is up")
    assert _final_block_of(b, tx_hash) is not None or wait_for(
        lambda: _final_block_of(b, tx_hash), 30, "the transfer final on the peer"
    )


def test_period_0_on_demand__the_blocks_finalizing_a_transfer_come_at_once__then_the_chain_idles(
    cluster_factory: Callable[..., Cluster],
) -> None:
    """Three signers on a Clique period-0 chain, sealing on demand without empty blocks: the blocks that carry a
    transfer to finality (FFG votes of the other signers) are sealed at once, not one a period - their
    timestamps span fewer seconds than they are blocks - and once it is final the chain stops sealing."""
    cluster = cluster_factory(3, period=0, allow_empty=False)
    a = cluster.members[0]
    _mesh(cluster, cluster.members)
    for nonce in range(3):
        tx_hash = cluster.send_transfer(a, nonce)
        receipt = wait_for(lambda: _final_block_of(a, tx_hash), 60, "the transfer final")  # noqa: B023
        mined = a.rpc.block(int(receipt["blockNumber"], 16))
        head = a.rpc.block("latest")
        blocks = int(head["number"], 16) - int(mined["number"], 16)
        seconds = int(head["timestamp"], 16) - int(mined["timestamp"], 16)
        assert blocks >= 2, "FFG finalizes with votes in later blocks"
        assert seconds < blocks, f"{blocks} finalizing blocks a period apart ({seconds} s)"
    mined_at = int(receipt["blockNumber"], 16)

    def still() -> bool:
        before = a.rpc.number()
        time.sleep(1.0)
        return a.rpc.number() == before

    wait_for(still, 30, "the chain idle once every transfer is final")
    assert a.rpc.number() - mined_at <= FAST_FINALITY_EPOCHS * epoch_length(3), "too many empty blocks"
