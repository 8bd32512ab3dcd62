"""Block import from peers and catch-up sync: fetch the heavier peer's chain in batches, validate, commit.

Every block is fully validated on import by the chain layer (Clique seal and signer at the parent snapshot,
recently-signed limit, account permissioning at the parent state, execution and state root), whatever peer
sent it; a batch stops at the first invalid block. Blocks that do not descend from this node's finalized
block are refused (finality.py). Functions named ``*_on_chain`` run on the node's chain thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .abc import SyncBackend
from .errors import ConflictsWithFinality, InvalidBlock, NodeError

log = logging.getLogger(__name__)

BATCH = 128  # blocks per request while catching up
MAX_REPLY_BYTES = 8 * 1024 * 1024
SLICE = 16  # blocks imported per turn on the chain thread: sealing and reads get their turn in between
STALL_LIMIT = 2  # batches in a row that import nothing: the peer's claim is unproven, sync from another


@dataclass
class ImportOutcome:
    imported: list[tuple[int, bytes]] = field(default_factory=list)  # (number, hash) of new blocks
    known: int = 0
    head_before: bytes = b""
    head_after: bytes = b""
    unknown_parent: bool = False
    error: str | None = None
    fork: bool = False  # the error is a branch off our finalized chain, not a malformed or forged block

    @property
    def head_changed(self) -> bool:
        return self.head_before != self.head_after


def import_on_chain(node: SyncBackend, raws: Sequence[bytes]) -> ImportOutcome:
    """Import blocks in order; stop at the first one that is invalid or whose parent is unknown."""
    chain, pool = node.chain, node.core.pool
    outcome = ImportOutcome(head_before=chain.head_record().hash)
    included: list[bytes] = []
    for raw in raws:
        try:
            block = chain.import_raw(raw)
        except InvalidBlock as exc:
            outcome.error = str(exc)
            break
        if block.status == "known":
            outcome.known += 1
            continue
        if block.status == "unknown parent":
            outcome.unknown_parent = True
            break
        if block.error is not None:
            outcome.error = f"block #{block.number} 0x{block.hash.hex()[:12]}: {block.error}"
            outcome.fork = isinstance(block.error, ConflictsWithFinality)
            break
        outcome.imported.append((block.number, block.hash))
        included.extend(block.tx_hashes)
    outcome.head_after = chain.head_record().hash
    if included:
        pool.remove(included)
    if outcome.head_changed:
        _reinject_orphaned(node, outcome.head_before)
        pool.prune(node.core.view())
    return outcome


def _reinject_orphaned(node: SyncBackend, old_head: bytes) -> None:
    """After a reorganisation, put the transactions of blocks that left the canonical chain back in the pool
    (those already included in the new branch are refused as 'nonce too low' and simply dropped)."""
    chain = node.chain
    for block_hash in chain.orphaned_since(old_head):
        for raw in chain.raw_transactions(block_hash):
            with contextlib.suppress(NodeError):
                node.core.admit(raw)  # back in the pool, not announced again


def serve_blocks_on_chain(node: SyncBackend, start: int, count: int) -> list[bytes]:
    """Canonical blocks ``start .. start+count-1`` (as far as this node has them), bounded in bytes."""
    chain = node.chain
    out: list[bytes] = []
    size = 0
    last = min(chain.head_record().number, start + min(count, BATCH) - 1)
    for number in range(max(start, 0), last + 1):
        raw = chain.encode_block(number)
        size += len(raw)
        if out and size > MAX_REPLY_BYTES:
            break
        out.append(raw)
    return out


class PeerView:
    """What sync needs from a peer: its best chain and a way to ask for canonical blocks by number."""

    node_id: bytes
    td: int
    head_number: int

    async def get_blocks(self, start: int, count: int) -> list[bytes]:  # pragma: no cover - interface
        raise NotImplementedError


@dataclass
class SyncState:
    """For ``eth_syncing``."""

    active: bool = False
    starting_block: int = 0
    highest_block: int = 0


class Syncer:
    """Catches the node up with heavier peers, one sync at a time.

    A peer's claimed total difficulty only starts a sync; what keeps it going is progress. A peer that sends
    invalid blocks, or batches that import nothing, is reported through ``on_misbehaving`` (the p2p service
    drops it) and the sync stops, so another peer can be used; no peer can hold the sync lock for long.
    """

    def __init__(
        self,
        node: SyncBackend,
        on_imported: Callable[[ImportOutcome], Awaitable[None]],
        on_misbehaving: Callable[[Any, str], Awaitable[None]] | None = None,
    ) -> None:
        self.node = node
        self.on_imported = on_imported
        self.on_misbehaving = on_misbehaving
        self.state = SyncState()
        self._lock = asyncio.Lock()

    async def _import(self, raws: Sequence[bytes]) -> ImportOutcome:
        """Import a batch a slice at a time, giving the chain thread back between slices."""
        node = self.node
        total = ImportOutcome(head_before=node.chain.head_record().hash)
        for first in range(0, len(raws), SLICE):
            part = await node.on_chain(functools.partial(import_on_chain, node, raws[first : first + SLICE]))
            total.imported += part.imported
            total.known += part.known
            total.head_after = part.head_after
            if part.error or part.unknown_parent:
                total.error, total.unknown_parent, total.fork = part.error, part.unknown_parent, part.fork
                break
        return total

    async def _misbehaving(self, peer: Any, reason: str) -> None:
        log.warning("peer %s: %s", peer.node_id.hex()[:12], reason)
        if self.on_misbehaving is not None:
            await self.on_misbehaving(peer, reason)

    async def our_td(self) -> int:
        return int(await self.node.on_chain(self.node.chain.head_total_difficulty))

    async def worth_syncing(self, peer: Any) -> bool:
        """Could the peer's chain become our head? Heavier, or as heavy with a head we have never seen.

        The second case is the Clique stalemate: two signers each sealed the same height out of turn (say,
        before they met) and the recently-signed rule forbids each to seal on its own block. Neither chain is
        heavier; importing the other's head lets EIP-3436's tie-break (chain/importing.py) put both nodes on
        the same branch, so one of them can seal the next block.
        """

        def check() -> bool:
            chain = self.node.chain
            ours = chain.head_total_difficulty()
            if peer.td != ours:
                return bool(peer.td > ours)
            return bool(peer.head_hash) and not chain.has_block(peer.head_hash)

        return bool(await self.node.on_chain(check))

    async def sync_from(self, peer: Any) -> int:
        """Import the peer's chain while it is heavier than ours; returns how many blocks were imported."""
        if self._lock.locked():
            return 0
        async with self._lock:
            try:
                return await self._sync(peer)
            finally:
                self.state.active = False

    async def _sync(self, peer: Any) -> int:
        node = self.node
        total = 0
        back = 0
        stalled = 0
        prefetch: asyncio.Task[list[bytes]] | None = None
        prefetch_start = 0
        self.state = SyncState(True, node.chain.head_record().number, int(peer.head_number))
        while await self.worth_syncing(peer):
            head_number = node.chain.head_record().number
            # From our head on; a peer as heavy at a height we already have (or heavier with fewer blocks)
            # starts at its own head, and stepping back finds where the branches meet.
            start = max(1, min(head_number + 1, int(peer.head_number)) - back)
            if prefetch is not None and back == 0 and prefetch_start == start:
                raws = await prefetch
            else:
                if prefetch is not None:
                    prefetch.cancel()
                raws = await peer.get_blocks(start, BATCH)
            prefetch = None
            if not raws:
                break
            if len(raws) == BATCH:
                # Ask for the next batch while this one executes (network and import overlap).
                prefetch_start = start + BATCH
                prefetch = asyncio.ensure_future(peer.get_blocks(prefetch_start, BATCH))
            self.state.highest_block = max(self.state.highest_block, int(peer.head_number))
            outcome = await self._import(raws)
            total += len(outcome.imported)
            if outcome.imported or outcome.head_changed:
                await self.on_imported(outcome)
            if outcome.error:
                if outcome.fork:
                    log.warning("sync from %s stopped: %s", peer.node_id.hex()[:12], outcome.error)
                else:
                    await self._misbehaving(peer, f"sent an invalid block during sync: {outcome.error}")
                break
            if outcome.unknown_parent:
                # We are on another branch: step back until the peer's blocks connect (not below finality).
                finalized = node.chain.finalized_number()
                if start <= finalized + 1:
                    log.warning(
                        "peer %s is on a branch that conflicts with our finalized block",
                        peer.node_id.hex()[:12],
                    )
                    break
                back = min(max(32, back * 2), head_number + 1 - (finalized + 1))
                continue
            back = 0
            if outcome.imported:
                stalled = 0
            else:
                stalled += 1
                if len(raws) < BATCH or stalled >= STALL_LIMIT:
                    if peer.td > await self.our_td():
                        await self._misbehaving(peer, "claims a heavier chain but sends no block we lack")
                    break
        if prefetch is not None:
            prefetch.cancel()
        return total
