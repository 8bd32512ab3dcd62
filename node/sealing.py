"""Block production on a network of Clique signers: who seals when, so that the in-turn signer usually wins.

One round: if this node's signer may seal the next block (authorized, not within the recently-signed
limit) and there is a reason to seal (executable transactions, ``allow_empty``, or transactions in blocks
that are not final yet - empty blocks are what carries them to finality), wait until the block's timestamp
plus, when out of turn, geth's random wiggle; a new head arriving meanwhile restarts the round on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import consensus

if TYPE_CHECKING:
    from .records import SealedBlock
    from .service import Node

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Plan:
    head_hash: bytes
    head_number: int
    head_timestamp: int
    can_seal: bool
    pending_txs: bool
    unfinalized_txs: bool
    signers: tuple[bytes, ...]


def unfinalized_transactions(node: Node) -> bool:
    """Does any block after the finalized one carry transactions? (walks at most a few blocks)"""
    chain = node.chain
    header = chain.head
    final = chain.finalized.block_number
    while header.block_number > final:
        if chain.tx_count(header):
            return True
        header = chain.header_by_hash(header.parent_hash)
    return False


def plan_on_chain(node: Node) -> Plan:
    chain, core = node.chain, node.core
    head = chain.head
    assert core.signer is not None
    return Plan(
        head_hash=head.hash,
        head_number=int(head.block_number),
        head_timestamp=int(head.timestamp),
        can_seal=chain.can_seal(core.signer.address),
        pending_txs=core.has_work(),
        unfinalized_txs=unfinalized_transactions(node),
        signers=tuple(chain.signers(head)),
    )


async def produce_round(node: Node) -> SealedBlock | None:
    """One production round for a node with peers; returns the block it sealed, if any."""
    plan = await node.on_chain(lambda: plan_on_chain(node))
    on_demand = node.config.seal_mode == "on-demand"
    want = plan.pending_txs or node.config.allow_empty or plan.unfinalized_txs
    if not plan.can_seal or not want:
        await node.wait_for_change(node.period)
        return None
    assert node.signer is not None
    # On demand, transactions go out at once; everything else keeps the period.
    step = 1 if on_demand and plan.pending_txs else node.period
    timestamp = max(plan.head_timestamp + step, int(time.time()))
    delay = (
        timestamp
        - time.time()
        + consensus.seal_delay(plan.signers, node.signer.address, plan.head_number + 1)
    )
    if delay > 0 and await node.wait_for_change(delay):
        return None  # a new head (or stop) arrived first: plan again on top of it

    def seal() -> SealedBlock | None:
        if node.chain.head.hash != plan.head_hash or not node.chain.can_seal(node.core.signer.address):  # type: ignore[union-attr]
            return None
        return node.core.seal(allow_empty=True, timestamp=timestamp)

    sealed = await node.on_chain(seal)
    if sealed is None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.sleep(0.05)
    return sealed
