"""Sync cannot be captured: a peer that claims a heavier chain but answers with blocks we already have, or with
invalid ones, is reported and the sync ends; a batch is imported a slice at a time."""

from __future__ import annotations

import asyncio
from typing import Any

from eth_account.signers.local import LocalAccount
from pamchain.node import make_genesis, run_node
from pamchain.node.sync import BATCH, STALL_LIMIT, ImportOutcome, Syncer


class LyingPeer:
    """Claims an enormous total difficulty; serves whatever ``blocks`` returns."""

    def __init__(self, blocks: Any) -> None:
        self.node_id = b"\x99" * 64
        self.td = 10**30
        self.head_number = 10**6
        self.blocks = blocks
        self.requests = 0

    async def get_blocks(self, start: int, count: int) -> list[bytes]:
        self.requests += 1
        await asyncio.sleep(0)
        return self.blocks(start, count)


def _sync(handle: Any, peer: LyingPeer) -> tuple[int, list[str]]:
    reasons: list[str] = []

    async def misbehaving(_peer: Any, reason: str) -> None:
        reasons.append(reason)

    async def imported(_outcome: ImportOutcome) -> None:
        return None

    async def run() -> int:
        syncer = Syncer(handle.node, imported, misbehaving)
        return await asyncio.wait_for(syncer.sync_from(peer), 60)

    return handle.run(run, timeout=90), reasons


def test_peer_replaying_known_blocks__dropped_after_no_progress(signer: LocalAccount) -> None:
    with run_node(make_genesis([signer.address], 31337, {}), signer.key) as handle:
        handle.seal()
        head = int(handle.node.chain.head.block_number)
        assert head >= 1
        known = [handle.node.chain.encode_block(n) for n in range(1, head + 1)]
        peer = LyingPeer(lambda start, count: (known * BATCH)[:BATCH])  # full batches of what we have
        imported, reasons = _sync(handle, peer)
        assert imported == 0 and peer.requests <= 2 * STALL_LIMIT  # each batch may have prefetched the next
        assert reasons and "sends no block we lack" in reasons[0]
        assert handle.node.chain.head.block_number == head


def test_peer_sending_invalid_blocks__dropped(signer: LocalAccount) -> None:
    with run_node(make_genesis([signer.address], 31337, {}), signer.key) as handle:
        handle.seal()
        block = handle.node.chain.encode_block(1)
        garbage = block[:-1] + bytes([block[-1] ^ 0xFF])
        peer = LyingPeer(lambda start, count: [garbage])
        imported, reasons = _sync(handle, peer)
        assert imported == 0 and len(reasons) == 1 and "invalid block" in reasons[0]
        assert peer.requests == 1
